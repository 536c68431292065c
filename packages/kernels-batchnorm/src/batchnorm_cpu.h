// The CPU addon's kernels: the bodies of batchnorm_cpu_kernel.h built for two instruction sets (chosen at run time
// from CPUID; CONVNET_ISA=generic forces the baseline build), run over channels by a small persistent thread pool
// (batchnorm_cpu.cpp). Each thread takes a contiguous range of whole channels, so the results do not depend on
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

// "avx2" where the CPU has it (and CONVNET_ISA is not "generic"), else "generic".
const char* isa();

// The thread count a call uses when it names none: CONVNET_NUM_THREADS, else the cores.
int default_threads();

// fn(c0, c1) over disjoint contiguous ranges covering [0, c), on up to `threads` threads (the caller's included),
// fewer for small work (`work`: values touched). A call from a second JS thread while the pool is busy runs on
// its own thread alone.
void parallel_channels(int64_t c, int threads, int64_t work, const std::function<void(int64_t, int64_t)>& fn);

// The three kernels over all channels, on the chosen instruction set.
void train(const Dims& d, int threads, float eps, float momentum, const float* x, const float* weight, const float* bias,
           float* y, float* save_mean, float* save_inv_std, float* running_mean, float* running_var);
void inference(const Dims& d, int threads, float eps, const float* x, const float* weight, const float* bias,
               const float* running_mean, const float* running_var, float* y);
void backward(const Dims& d, int threads, const float* x, const float* dy, const float* weight, const float* save_mean,
              const float* save_inv_std, float* dx, float* dweight, float* dbias);

}  // namespace convnet::batchnorm::cpu
