// Winograd transforms compiled for AVX2 + FMA (8 lanes); see conv_winograd_kernel.h.
#define CONVNET_WINO_NS wino_avx2
#include "conv_winograd_kernel.h"

namespace convnet {
const WinoTransforms& wino_transforms_avx2() {
  static const WinoTransforms t{"avx2", wino_avx2::input_plane_impl<8>, wino_avx2::output_plane_impl<8>,
                                wino_avx2::filter_row_impl<8>, wino_avx2::dy_plane_impl<8>,
                                wino_avx2::filter_grad_row_impl<8>};
  return t;
}
}  // namespace convnet
