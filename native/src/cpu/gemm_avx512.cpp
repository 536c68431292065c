// Packed SGEMM engine for AVX-512 (compiled with -mavx512f/bw/dq/vl, see CMakeLists.txt).
#define CONVNET_GEMM_NS gemm_avx512
#include "gemm_kernel.h"

namespace convnet {
namespace gemm {

// 12 x 32 tile: 24 zmm accumulators + 2 for B + 1 broadcast of A (of 32 registers).
// The same geometry is tested on AVX2 machines through engine_avx2_emulating_avx512().
using Avx512Engine = gemm_avx512::Engine<gemm_avx512::Config<CONVNET_GEMM_AVX512_CONFIG>>;

void dots_bf16_avx512(const Problem& p, int64_t j0, int64_t j1) { Avx512Engine::run_dots<true>(p, j0, j1); }

const EngineInfo& engine_avx512() {
  static const EngineInfo e = Avx512Engine::info("avx512-12x32");
  return e;
}

}  // namespace gemm
}  // namespace convnet
