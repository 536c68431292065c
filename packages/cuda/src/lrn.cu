// Cross-channel LRN: one thread per element, bodies from native/include/convnet/kernels/lrn.h.
// (lab/lrn.cu compares this with a version that slides the window sum along the channels.)
#include "cuda_util.cuh"

namespace convnet::cuda {
namespace {

__global__ void lrn_forward_kernel(int64_t count, int64_t c, int64_t plane, LrnParams p, const float* x, float* y,
                                   float* scale) {
  CONVNET_GRID_STRIDE(i, count) {
    const int64_t q = i % plane, ci = (i / plane) % c, img = i / (plane * c);
    const int64_t base = img * c * plane;
    y[i] = lrn_forward_element(p, x + base, c, plane, ci, q, &scale[i]);
  }
}

__global__ void lrn_backward_kernel(int64_t count, int64_t c, int64_t plane, LrnParams p, const float* x,
                                    const float* y, const float* scale, const float* dy, float* dx) {
  CONVNET_GRID_STRIDE(i, count) {
    const int64_t q = i % plane, m = (i / plane) % c, img = i / (plane * c);
    const int64_t base = img * c * plane;
    dx[i] = lrn_backward_element(p, x + base, y + base, scale + base, dy + base, c, plane, m, q);
  }
}

}  // namespace

void lrn_forward(Stream s, int64_t n, int64_t c, int64_t plane, const LrnParams& p, const float* x, float* y,
                 float* scale) {
  const int64_t count = n * c * plane;
  if (count == 0) return;
  lrn_forward_kernel<<<grid_for(count), kThreads, 0, stream_of(s)>>>(count, c, plane, p, x, y, scale);
  check_launch("lrn_forward");
}

void lrn_backward(Stream s, int64_t n, int64_t c, int64_t plane, const LrnParams& p, const float* x, const float* y,
                  const float* scale, const float* dy, float* dx) {
  const int64_t count = n * c * plane;
  if (count == 0) return;
  lrn_backward_kernel<<<grid_for(count), kThreads, 0, stream_of(s)>>>(count, c, plane, p, x, y, scale, dy, dx);
  check_launch("lrn_backward");
}

}  // namespace convnet::cuda
