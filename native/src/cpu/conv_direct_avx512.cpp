// Direct convolution tiles for AVX-512 (compiled with -mavx512f ...): 16-channel blocks, 4 output blocks × 6 pixels
// (24 zmm accumulators, 4 weight vectors, 1 broadcast).
#define CONVNET_DIRECT_NS direct_avx512
#include "conv_direct_kernel.h"

namespace convnet {
const DirectKernels& direct_kernels_avx512() {
  static const DirectKernels k = direct_avx512::make<16, 4, 6, 4, 6>("direct nChw16c 4x6 (avx512)");
  return k;
}
}  // namespace convnet
