// im2col / col2im (gather) and the bias kernels of the convolution (conv.cpp drives them with sgemm).
#include "cuda_util.cuh"
#include "kernels/reduce.h"

namespace convnet::cuda {
namespace {

__global__ void im2col_kernel(ConvGeom g, int64_t count, const float* x, float* col) {
  CONVNET_GRID_STRIDE(i, count) im2col_at(g, x, col, i);
}
__global__ void col2im_kernel(ConvGeom g, int64_t count, const float* col, float* dx) {
  CONVNET_GRID_STRIDE(i, count) col2im_at(g, col, dx, i);
}
__global__ void sum_partials_kernel(int64_t len, int64_t splits, const float* p, float* dst, bool accumulate) {
  CONVNET_GRID_STRIDE(i, len) {
    float t = 0.f;
    for (int64_t s = 0; s < splits; ++s) t += p[s * len + i];  // split order: deterministic
    dst[i] = accumulate ? t + dst[i] : t;
  }
}
__global__ void bias_add_kernel(int64_t count, int64_t c, int64_t inner, const float* x, const float* b, float* y) {
  CONVNET_GRID_STRIDE(i, count) y[i] = x[i] + b[(i / inner) % c];
}
// One block per channel: strided partial sums, then a tree in shared memory (kernels/reduce.h).
__global__ void __launch_bounds__(kReduceThreads) bias_grad_kernel(int64_t n, int64_t c, int64_t inner, const float* dy,
                                                                   float* db) {
  __shared__ float sh[kReduceThreads];
  const int tid = threadIdx.x;
  const int64_t ch = blockIdx.x;
  sh[tid] = bias_grad_partial(n, c, inner, dy, ch, tid);
  __syncthreads();
  for (int s = kReduceThreads / 2; s > 0; s >>= 1) {
    tree_step(sh, tid, s);
    __syncthreads();
  }
  if (tid == 0) db[ch] = sh[0];
}

}  // namespace

void im2col(Stream s, const ConvGeom& g, int64_t images, const float* x, float* col) {
  const int64_t count = images * g.c * g.kh * g.kw * g.oh * g.ow;
  if (count == 0) return;
  im2col_kernel<<<grid_for(count), kThreads, 0, stream_of(s)>>>(g, count, x, col);
  check_launch("im2col");
}

void col2im(Stream s, const ConvGeom& g, int64_t images, const float* col, float* dx) {
  const int64_t count = images * g.c * g.h * g.w;
  if (count == 0) return;
  col2im_kernel<<<grid_for(count), kThreads, 0, stream_of(s)>>>(g, count, col, dx);
  check_launch("col2im");
}

void sum_partials(Stream s, int64_t len, int64_t splits, const float* partials, float* dst, bool accumulate) {
  if (len == 0) return;
  sum_partials_kernel<<<grid_for(len), kThreads, 0, stream_of(s)>>>(len, splits, partials, dst, accumulate);
  check_launch("sum_partials");
}

void bias_add(Stream s, int64_t n, int64_t c, int64_t inner, const float* x, const float* b, float* y) {
  const int64_t count = n * c * inner;
  if (count == 0) return;
  bias_add_kernel<<<grid_for(count), kThreads, 0, stream_of(s)>>>(count, c, inner, x, b, y);
  check_launch("bias_add");
}

void bias_grad(Stream s, int64_t n, int64_t c, int64_t inner, const float* dy, float* db) {
  if (c == 0) return;
  if (c > 0x7fffffff) throw std::runtime_error("cuda: bias_grad: too many channels");
  bias_grad_kernel<<<static_cast<unsigned>(c), kReduceThreads, 0, stream_of(s)>>>(n, c, inner, dy, db);
  check_launch("bias_grad");
}

}  // namespace convnet::cuda
