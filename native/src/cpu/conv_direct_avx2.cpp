// Direct convolution tiles for AVX2 + FMA (compiled with -mavx2 -mfma): 8-channel blocks, 3 output blocks × 4
// pixels (12 ymm accumulators, 3 weight vectors, 1 broadcast); and the AVX-512 blocking (16 channels, 4 × 6) lowered
// to ymm pairs, slow (its accumulators spill), only so that CONVNET_GEMM_EMULATE_AVX512=1 tests that blocking here.
#define CONVNET_DIRECT_NS direct_avx2
#include "conv_direct_kernel.h"

namespace convnet {
const DirectKernels& direct_kernels_avx2() {
  static const DirectKernels k = direct_avx2::make<8, 2, 6, 3, 4>("direct nChw8c 2x6 (avx2)");
  return k;
}
const DirectKernels& direct_kernels_avx2_emulating_avx512() {
  static const DirectKernels k = direct_avx2::make<16, 4, 6, 4, 6>("direct nChw16c 4x6 (avx512 emulated on avx2)");
  return k;
}
}  // namespace convnet
