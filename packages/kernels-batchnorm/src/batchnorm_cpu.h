// The CPU addon's kernels: the bodies of batchnorm_cpu_kernel.h built for two instruction sets (chosen at run time
// by @convnet/native's runtime: CONVNET_ISA=generic forces the baseline build), run over channels by the process's
// one thread pool, @convnet/native's (convnet/runtime.h, handed over by useRuntime). Each thread takes a contiguous range of whole channels, so the results do not depend on
// the thread count or the instruction set.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "batchnorm.h"
#include "convnet/runtime.h"

namespace convnet::batchnorm::cpu {

#define CONVNET_BN_CPU_DECLARE(isa)                                                                                 \
  namespace isa {                                                                                                   \
  void train_channels(int64_t c0, int64_t c1, const Dims& d, float eps, float momentum, const float* x,             \
                      const float* weight, const float* bias, float* y, float* save_mean, float* save_inv_std,      \
                      float* running_mean, float* running_var);                                                     \
  void inference_channels(int64_t c0, int64_t c1, const Dims& d, float eps, const float* x, const float* weight,    \
                          const float* bias, const float* running_mean, const float* running_var, float* y);        \
  void backward_channels(int64_t c0, int64_t c1, const Dims& d, const float* x, const float* dy, const float* weight, \
                         const float* save_mean, const float* save_inv_std, float* dx, float* dweight, float* dbias); \
  }
CONVNET_BN_CPU_DECLARE(generic)
CONVNET_BN_CPU_DECLARE(avx2)
#undef CONVNET_BN_CPU_DECLARE

// The runtime every call uses (useRuntime in bind.cpp, once, before any kernel).
void use_runtime(const convnet_runtime* rt);

// "avx2" where @convnet/native runs AVX2 or AVX-512, else "generic".
const char* isa();

// The pool's thread count (CONVNET_NUM_THREADS, the cores, or setNumThreads / the trainer's --threads).
int threads();

// fn(c0, c1) over disjoint contiguous ranges covering [0, c), on the pool's threads (the caller's included), fewer
// for small work (`work`: values touched). A call from a second JS thread while the pool is busy runs on its own
// thread alone.
void parallel_channels(int64_t c, int64_t work, const std::function<void(int64_t, int64_t)>& fn);

// The three kernels over all channels, on the chosen instruction set.
void train(const Dims& d, float eps, float momentum, const float* x, const float* weight, const float* bias,
           float* y, float* save_mean, float* save_inv_std, float* running_mean, float* running_var);
void inference(const Dims& d, float eps, const float* x, const float* weight, const float* bias,
               const float* running_mean, const float* running_var, float* y);
void backward(const Dims& d, const float* x, const float* dy, const float* weight, const float* save_mean,
              const float* save_inv_std, float* dx, float* dweight, float* dbias);

}  // namespace convnet::batchnorm::cpu
