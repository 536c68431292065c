// FMA peak loop, AVX-512 (compiled with -mavx512f...; called only when the CPU has it).
#define CONVNET_PEAK_NS peak_avx512
#include "peak_kernel.h"

namespace convnet {
namespace peak_avx512 {
static __m512 fma(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
static __m512 set1(float x) { return _mm512_set1_ps(x); }
static __m512 add(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
}  // namespace peak_avx512

// 2 * 16 * 12 flops per round.
float fma_loop_avx512(int64_t iters) {
  const __m512 s = peak_avx512::fma_chains<__m512, peak_avx512::fma, peak_avx512::set1, peak_avx512::add>(iters);
  alignas(64) float o[16];  // (not _mm512_reduce_add_ps: GCC 12's header warns about itself there)
  _mm512_store_ps(o, s);
  return o[0] + o[15];
}
}  // namespace convnet
