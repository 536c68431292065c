// Pooling: one thread per output (forward) or per input pixel (backward, gather form); the bodies are the
// shared ones in native/include/convnet/kernels/pool.h.
#include "convnet/kernels/pool.h"
#include "cuda_util.cuh"

namespace convnet::cuda {
namespace {

// index → (plane p, row, col) of an [planes, rows, cols] tensor
__device__ inline void split(int64_t i, int64_t rows, int64_t cols, int64_t* p, int64_t* r, int64_t* c) {
  *c = i % cols;
  *r = (i / cols) % rows;
  *p = i / (cols * rows);
}

__global__ void pool_forward_kernel(int kind, PoolGeom g, bool cip, int64_t count, const float* x, float* y) {
  CONVNET_GRID_STRIDE(i, count) {
    int64_t p, oy, ox;
    split(i, g.oh, g.ow, &p, &oy, &ox);
    const float* plane = x + p * g.h * g.w;
    y[i] = kind == 0 ? max_pool_output(g, plane, oy, ox)
         : kind == 2 ? avg_pool_output(g, cip, plane, oy, ox)
                     : adaptive_avg_pool_output(g, plane, oy, ox);
  }
}

__global__ void pool_backward_kernel(int kind, PoolGeom g, bool cip, int64_t count, const float* x, const float* dy,
                                     float* dx) {
  CONVNET_GRID_STRIDE(i, count) {
    int64_t p, iy, ix;
    split(i, g.h, g.w, &p, &iy, &ix);
    const float* dyp = dy + p * g.oh * g.ow;
    dx[i] = kind == 1 ? max_pool_input_grad(g, x + p * g.h * g.w, dyp, iy, ix)
          : kind == 3 ? avg_pool_input_grad(g, cip, dyp, iy, ix)
                      : adaptive_avg_pool_input_grad(g, dyp, iy, ix);
  }
}

}  // namespace

void pool(Stream s, int kind, const PoolGeom& g, bool cip, const float* a, const float* b, float* out) {
  const bool backward = kind == 1 || kind == 3 || kind == 5;
  const int64_t count = g.n * g.c * (backward ? g.h * g.w : g.oh * g.ow);
  if (count == 0) return;
  if (!backward) pool_forward_kernel<<<grid_for(count), kThreads, 0, stream_of(s)>>>(kind, g, cip, count, a, out);
  else if (kind == 1) pool_backward_kernel<<<grid_for(count), kThreads, 0, stream_of(s)>>>(kind, g, cip, count, a, b, out);
  else pool_backward_kernel<<<grid_for(count), kThreads, 0, stream_of(s)>>>(kind, g, cip, count, nullptr, a, out);
  check_launch("pool");
}

}  // namespace convnet::cuda
