// bf16 GEMM on AVX512-BF16 (compiled with -mavx512bf16 and the AVX-512 flags, see CMakeLists.txt; called only when the CPU has
// AVX512-BF16, see gemm.cpp): VDPBF16PS adds two bf16 products per float32 lane per instruction.
#define CONVNET_BF16_NS gemm_bf16_avx512
#include "gemm_bf16_kernel.h"

namespace convnet {
namespace gemm_bf16_avx512 {

// 12 x 32 tile: 24 zmm accumulators + 2 B vectors + 1 broadcast pair of A.
struct Vdpbf16Kernel {
  static constexpr int MR = 12, NR = 32, W = 16;
  static void tile(int64_t kp, const uint32_t* __restrict a, const uint32_t* __restrict b, float* acc) {
    __m512 c[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) c[i][0] = c[i][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kp; ++p) {
      const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 16);
#pragma GCC unroll 12
      for (int i = 0; i < MR; ++i) {
        const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[i]));
        c[i][0] = _mm512_dpbf16_ps(c[i][0], av, b0);
        c[i][1] = _mm512_dpbf16_ps(c[i][1], av, b1);
      }
      a += MR;
      b += NR;
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      _mm512_store_ps(acc + i * NR, c[i][0]);
      _mm512_store_ps(acc + i * NR + 16, c[i][1]);
    }
  }
};

}  // namespace gemm_bf16_avx512

namespace gemm {
static void run_bf16_avx512(const Problem& p) { gemm_bf16_avx512::Bf16Engine<gemm_bf16_avx512::Vdpbf16Kernel>::run(p); }
const EngineInfo& engine_bf16_avx512() {
  static const EngineInfo e = [] {
    EngineInfo x{};
    x.name = "avx512bf16-12x32";
    x.mr = gemm_bf16_avx512::Vdpbf16Kernel::MR;
    x.nr = gemm_bf16_avx512::Vdpbf16Kernel::NR;
    x.run = &run_bf16_avx512;
    x.run_dots = &dots_bf16_avx512;
    return x;
  }();
  return e;
}
}  // namespace gemm
}  // namespace convnet
