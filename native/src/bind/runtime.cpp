// The runtime table for other addons (convnet/runtime.h): this addon's pool, ISA and workspace behind C entry points.
#include "convnet/runtime.h"

#include <napi.h>

#include <new>

#include "../cpu/workspace.h"
#include "convnet/cpu_features.h"
#include "convnet/threadpool.h"

namespace convnet::bind {
namespace {

int rt_num_threads() { return num_threads(); }
int rt_task_threads(int64_t n) { return task_threads(n); }
void rt_parallel_for(int64_t n, convnet_range_fn fn, void* ctx) {
  parallel_for(n, [&](int64_t b, int64_t e, int t) { fn(ctx, b, e, t); });
}
void rt_parallel_tasks(int64_t n, convnet_task_fn fn, void* ctx) {
  parallel_tasks(n, [&](int64_t i, int t) { fn(ctx, i, t); });
}
float* rt_workspace(size_t floats) {
  try {
    return workspace(floats);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
const char* rt_isa() { return active_isa(); }

const convnet_runtime kRuntime = {CONVNET_RUNTIME_ABI, sizeof(convnet_runtime), rt_num_threads, rt_task_threads,
                                  rt_parallel_for,     rt_parallel_tasks,        rt_workspace,   rt_isa};

Napi::Value runtime_fn(const Napi::CallbackInfo& info) {
  auto ext = Napi::External<void>::New(info.Env(), const_cast<convnet_runtime*>(&kRuntime));
  if (napi_type_tag_object(info.Env(), ext, &kit::runtime_tag()) != napi_ok)
    throw Napi::Error::New(info.Env(), "runtime: could not tag the runtime external");
  return ext;
}

}  // namespace

void register_runtime(Napi::Env env, Napi::Object exports) {
  exports.Set("runtime", Napi::Function::New(env, runtime_fn, "runtime"));
}

}  // namespace convnet::bind
