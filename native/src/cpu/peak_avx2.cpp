// FMA peak loop, AVX2 + FMA (compiled with -mavx2 -mfma; called only when the CPU has them).
#define CONVNET_PEAK_NS peak_avx2
#include "peak_kernel.h"

namespace convnet {
namespace peak_avx2 {
static __m256 fma(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
static __m256 set1(float x) { return _mm256_set1_ps(x); }
static __m256 add(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
}  // namespace peak_avx2

// 2 * 8 * 12 flops per round.
float fma_loop_avx2(int64_t iters) {
  const __m256 s = peak_avx2::fma_chains<__m256, peak_avx2::fma, peak_avx2::set1, peak_avx2::add>(iters);
  alignas(32) float o[8];
  _mm256_store_ps(o, s);
  return o[0] + o[7];
}
}  // namespace convnet
