// First-layer convolution tiles for AVX2 + FMA (compiled with -mavx2 -mfma): 8-channel blocks, tiles of up to 3
// output blocks with 12 ymm accumulators (3 × 4, 2 × 6, 1 × 12); and the AVX-512 blocking (16 channels, 24
// accumulators) lowered to ymm pairs, slow (its accumulators spill), only so that CONVNET_GEMM_EMULATE_AVX512=1
// tests that blocking here.
#define CONVNET_FIRST_NS first_avx2
#include "conv_first_kernel.h"

namespace convnet {
const FirstKernels& first_kernels_avx2() {
  static const FirstKernels k = first_avx2::make<8, 3, 12>("direct first-layer 8c (avx2)");
  return k;
}
const FirstKernels& first_kernels_avx2_emulating_avx512() {
  static const FirstKernels k = first_avx2::make<16, 4, 24>("direct first-layer 16c (avx512 emulated on avx2)");
  return k;
}
}  // namespace convnet
