// Packed SGEMM engine for AVX2 + FMA (compiled with -mavx2 -mfma, see CMakeLists.txt).
#define CONVNET_GEMM_NS gemm_avx2
#include "gemm_kernel.h"

namespace convnet {
namespace gemm {

// 6 x 16 tile: 12 ymm accumulators + 2 for B + 1 broadcast of A.
// KC x NR panel of B (16 KiB) stays in L1, the MC x KC block of A (144 KiB) in L2.
using Avx2Engine = gemm_avx2::Engine<gemm_avx2::Config<CONVNET_GEMM_AVX2_CONFIG>>;
// The AVX-512 geometry (gemm_avx512.cpp) with 16-wide vectors lowered to pairs of ymm registers:
// slow (the accumulators spill), only here so the AVX-512 instantiation's logic is tested on AVX2.
using EmulatedAvx512Engine = gemm_avx2::Engine<gemm_avx2::Config<CONVNET_GEMM_AVX512_CONFIG>>;

const EngineInfo& engine_avx2() {
  static const EngineInfo e = Avx2Engine::info("avx2-6x16");
  return e;
}

void dots_bf16_avx2(const Problem& p, int64_t j0, int64_t j1) { Avx2Engine::run_dots<true>(p, j0, j1); }
void dots_bf16_avx2_emulating_avx512(const Problem& p, int64_t j0, int64_t j1) {
  EmulatedAvx512Engine::run_dots<true>(p, j0, j1);
}

const EngineInfo& engine_avx2_emulating_avx512() {
  static const EngineInfo e = EmulatedAvx512Engine::info("avx2-emulating-avx512-12x32");
  return e;
}

}  // namespace gemm
}  // namespace convnet
