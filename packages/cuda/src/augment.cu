// Crop + flip + lighting + mean subtraction + normalisation of a uint8 HWC batch into float32 NCHW on the
// device: one thread per output element (native/include/convnet/kernels/augment.h). The loader uploads
// bytes (4× less than floats) and the per-sample parameters drawn on the host by @convnet/augment.
#include "cuda_util.cuh"

namespace convnet::cuda {
namespace {

__global__ void augment_kernel(AugmentGeom g, AugmentSample smp, AugmentNorm nm, int64_t count, const uint8_t* images,
                               float* out) {
  CONVNET_GRID_STRIDE(i, count) out[i] = augment_output_element(g, smp, nm, images, i);
}

}  // namespace

void augment(Stream s, const AugmentGeom& g, const AugmentSample& smp, const AugmentNorm& nm, const uint8_t* images,
             float* out) {
  const int64_t count = g.n * g.c * g.oh * g.ow;
  if (count == 0) return;
  augment_kernel<<<grid_for(count), kThreads, 0, stream_of(s)>>>(g, smp, nm, count, images, out);
  check_launch("augment");
}

}  // namespace convnet::cuda
