// bf16 GEMM emulated on AVX2 + FMA (compiled with -mavx2 -mfma): the packed bf16 pairs are widened back to
// float32 (exact) and summed with FMAs, low half of each pair first. Gives the bf16 path's numbers on CPUs
// without AVX512-BF16 (accuracy studies); it is slower than float32, never faster.
#define CONVNET_BF16_NS gemm_bf16_avx2
#include "gemm_bf16_kernel.h"

namespace convnet {
namespace gemm_bf16_avx2 {

// 4 x 16 tile: 8 ymm accumulators + 4 widened B vectors + 2 broadcasts of A.
struct WidenKernel {
  static constexpr int MR = 4, NR = 16, W = 8;
  static void tile(int64_t kp, const uint32_t* __restrict a, const uint32_t* __restrict b, float* acc) {
    __m256 c[MR][2];
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) c[i][0] = c[i][1] = _mm256_setzero_ps();
    const __m256i hi_mask = _mm256_set1_epi32(static_cast<int>(0xffff0000u));
    for (int64_t p = 0; p < kp; ++p) {
      const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
      const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 8));
      const __m256 b0lo = _mm256_castsi256_ps(_mm256_slli_epi32(w0, 16));
      const __m256 b1lo = _mm256_castsi256_ps(_mm256_slli_epi32(w1, 16));
      const __m256 b0hi = _mm256_castsi256_ps(_mm256_and_si256(w0, hi_mask));
      const __m256 b1hi = _mm256_castsi256_ps(_mm256_and_si256(w1, hi_mask));
#pragma GCC unroll 4
      for (int i = 0; i < MR; ++i) {
        const uint32_t u = a[i];
        const __m256 alo = _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int>(u << 16)));
        const __m256 ahi = _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int>(u & 0xffff0000u)));
        c[i][0] = _mm256_fmadd_ps(ahi, b0hi, _mm256_fmadd_ps(alo, b0lo, c[i][0]));
        c[i][1] = _mm256_fmadd_ps(ahi, b1hi, _mm256_fmadd_ps(alo, b1lo, c[i][1]));
      }
      a += MR;
      b += NR;
    }
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      _mm256_store_ps(acc + i * NR, c[i][0]);
      _mm256_store_ps(acc + i * NR + 8, c[i][1]);
    }
  }
};

}  // namespace gemm_bf16_avx2

namespace gemm {
static void run_bf16_avx2(const Problem& p) { gemm_bf16_avx2::Bf16Engine<gemm_bf16_avx2::WidenKernel>::run(p); }
const EngineInfo& engine_bf16_avx2() {
  static const EngineInfo e = [] {
    EngineInfo x{};
    x.name = "avx2-bf16-emulated-4x16";
    x.mr = gemm_bf16_avx2::WidenKernel::MR;
    x.nr = gemm_bf16_avx2::WidenKernel::NR;
    x.run = &run_bf16_avx2;
    x.run_dots = &dots_bf16_avx2;
    return x;
  }();
  return e;
}
}  // namespace gemm
}  // namespace convnet
