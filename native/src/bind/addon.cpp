#include <napi.h>

#include "args.h"
#include "convnet/cpu_features.h"
#include "convnet/threadpool.h"
#include "../cpu/workspace.h"

namespace convnet::bind {

static Napi::Value info_fn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& f = cpu_features();
  Napi::Object o = Napi::Object::New(env);
  o.Set("isa", active_isa());
  o.Set("threads", num_threads());
  o.Set("avx2", f.avx2);
  o.Set("avx512", f.avx512);
  o.Set("avx512bf16", f.avx512bf16);
  o.Set("amx", f.amx);
  o.Set("exactAlloc", exact_alloc());
#ifdef CONVNET_SANITIZE_BUILD
  o.Set("sanitized", true);
#else
  o.Set("sanitized", false);
#endif
  return o;
}

static Napi::Value set_threads_fn(const Napi::CallbackInfo& info) {
  set_num_threads(static_cast<int>(int_arg(info, "setNumThreads", 0, 1, 1024)));
  return info.Env().Undefined();
}

static Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, info_fn, "info"));
  exports.Set("setNumThreads", Napi::Function::New(env, set_threads_fn, "setNumThreads"));
  register_gemm(env, exports);
  register_kernels(env, exports);
  register_perf(env, exports);
  register_runtime(env, exports);
  return exports;
}

}  // namespace convnet::bind

static Napi::Object InitConvnetNative(Napi::Env env, Napi::Object exports) {
  return convnet::bind::init(env, exports);
}

NODE_API_MODULE(convnet_native, InitConvnetNative)
