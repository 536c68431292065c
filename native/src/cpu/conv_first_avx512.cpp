// First-layer convolution tiles for AVX-512 (compiled with -mavx512f ...): 16-channel blocks, tiles of up to 4
// output blocks with 24 zmm accumulators (4 × 6, 3 × 8, 2 × 12, 1 × 12), 4 weight vectors and 1 broadcast.
#define CONVNET_FIRST_NS first_avx512
#include "conv_first_kernel.h"

namespace convnet {
const FirstKernels& first_kernels_avx512() {
  static const FirstKernels k = first_avx512::make<16, 4, 24>("direct first-layer 16c (avx512)");
  return k;
}
}  // namespace convnet
