// convnet's CPU runtime for other addons (kernel packages): the one thread pool of the process (the pool that
// @convnet/native's kernels use, sized by CONVNET_NUM_THREADS / `--threads` / setNumThreads), the instruction set
// chosen at run time, and the calling thread's scratch workspace. A kernel package links nothing of @convnet/native:
// the native addon hands this table out as a type-tagged Node-API external (`require('@convnet/native').runtime()`),
// the package passes it to its own addon once, and `convnet::kit::from_external` checks the tag and the ABI version.
//
//   // C++ (kernel package)
//   #include "convnet/runtime.h"
//   static const convnet_runtime* rt = nullptr;
//   Napi::Value use_runtime(const Napi::CallbackInfo& info) { rt = convnet::kit::from_external(info[0]); ... }
//   convnet::kit::parallel_for(rt, channels, [&](int64_t c0, int64_t c1, int tid) { ... });
//
//   // TypeScript
//   addon.useRuntime(native.runtime());
//
// The table is plain C (function pointers and C callbacks), so addons built by other compilers or C++ standard
// libraries can use it. Fields are only ever appended; `size` tells how many a given @convnet/native has.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CONVNET_RUNTIME_ABI 1

typedef void (*convnet_range_fn)(void* ctx, int64_t begin, int64_t end, int thread_index);
typedef void (*convnet_task_fn)(void* ctx, int64_t task, int thread_index);

typedef struct convnet_runtime {
  uint32_t abi;   // CONVNET_RUNTIME_ABI of the native addon that made the table
  uint32_t size;  // sizeof(convnet_runtime) there
  // threads in the pool (>= 1)
  int (*num_threads)(void);
  // threads (and per-thread scratch slices) a parallel region over n items uses: min(num_threads(), max(n, 1))
  int (*task_threads)(int64_t n);
  // fn over disjoint contiguous chunks covering [0, n), one chunk per thread; thread_index < task_threads(n)
  void (*parallel_for)(int64_t n, convnet_range_fn fn, void* ctx);
  // fn once per task in [0, n), tasks handed out dynamically; thread_index < task_threads(n)
  void (*parallel_tasks)(int64_t n, convnet_task_fn fn, void* ctx);
  // the calling thread's scratch: at least `floats` floats, 64-byte aligned, valid until its next call on this
  // thread; exact-size and guarded under CONVNET_EXACT_ALLOC=1 or a sanitizer build. NULL when out of memory.
  float* (*workspace)(size_t floats);
  // the instruction set the kernels run: "avx512", "avx2" or "generic" (CONVNET_ISA caps it)
  const char* (*isa)(void);
} convnet_runtime;

#ifdef __cplusplus
}  // extern "C"

#include <napi.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace convnet::kit {

// The Node-API type tag of the runtime external (UUID 6f1c0d3a-5b2e-4c77-9a41-c0a7e7e5b1d2).
inline const napi_type_tag& runtime_tag() {
  static const napi_type_tag tag = {0x6f1c0d3a5b2e4c77ULL, 0x9a41c0a7e7e5b1d2ULL};
  return tag;
}

// The table inside `v` (what `native.runtime()` returned); throws a JS TypeError naming what is wrong.
inline const convnet_runtime* from_external(const Napi::Value& v) {
  Napi::Env env = v.Env();
  if (!v.IsExternal())
    throw Napi::TypeError::New(env, "useRuntime: expected require('@convnet/native').runtime(), got another value");
  bool ok = false;
  if (napi_check_object_type_tag(env, v, &runtime_tag(), &ok) != napi_ok || !ok)
    throw Napi::TypeError::New(env, "useRuntime: the value is not a convnet runtime (its type tag differs)");
  const auto* rt = static_cast<const convnet_runtime*>(v.As<Napi::External<void>>().Data());
  if (rt->abi != CONVNET_RUNTIME_ABI || rt->size < sizeof(convnet_runtime))
    throw Napi::TypeError::New(env, "useRuntime: @convnet/native's runtime ABI is " + std::to_string(rt->abi) +
                                        " (table of " + std::to_string(rt->size) + " bytes); this addon was built for ABI " +
                                        std::to_string(CONVNET_RUNTIME_ABI) + ": install matching versions");
  return rt;
}

// Lambdas over the C callbacks: fn(begin, end, thread_index) / fn(task, thread_index).
template <class F>
void parallel_for(const convnet_runtime* rt, int64_t n, F&& fn) {
  rt->parallel_for(n, [](void* c, int64_t b, int64_t e, int t) { (*static_cast<F*>(c))(b, e, t); }, &fn);
}
template <class F>
void parallel_tasks(const convnet_runtime* rt, int64_t n, F&& fn) {
  rt->parallel_tasks(n, [](void* c, int64_t i, int t) { (*static_cast<F*>(c))(i, t); }, &fn);
}

}  // namespace convnet::kit
#endif
