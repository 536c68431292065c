// Element-wise kernels: neurons, dropout (Philox, mask bit-identical to the CPU), add/mul/scale/axpy and
// the SGD update. Bodies: native/include/convnet/kernels/{elementwise,dropout}.h and kernels/elementwise.h.
#include "cuda_util.cuh"

namespace convnet::cuda {
namespace {

__global__ void activation_kernel(Activation fn, int64_t len, const float* x, float* y) {
  CONVNET_GRID_STRIDE(i, len) y[i] = activation_value(fn, x[i]);
}
__global__ void activation_backward_kernel(Activation fn, int64_t len, const float* x, const float* y, const float* dy,
                                           float* dx) {
  CONVNET_GRID_STRIDE(i, len) dx[i] = dy[i] * activation_derivative(fn, x[i], y[i]);
}
__global__ void dropout_kernel(int64_t threads, int64_t len, uint64_t seed, uint32_t stream, uint64_t offset,
                               uint32_t keep_threshold, float scale, const float* x, float* y, float* mask) {
  CONVNET_GRID_STRIDE(t, threads) dropout_block(len, seed, stream, offset, keep_threshold, scale, x, y, mask, t);
}
__global__ void binary_kernel(BinaryOp op, int64_t len, const float* a, const float* b, float* y) {
  CONVNET_GRID_STRIDE(i, len) y[i] = op == BinaryOp::Add ? a[i] + b[i] : a[i] * b[i];
}
__global__ void scale_kernel(int64_t len, float alpha, const float* x, float* y) {
  CONVNET_GRID_STRIDE(i, len) y[i] = alpha * x[i];
}
__global__ void axpy_kernel(int64_t len, float alpha, const float* x, float* y) {
  CONVNET_GRID_STRIDE(i, len) y[i] += alpha * x[i];
}
template <bool Paper, bool Momentum, bool Nesterov, bool FirstStep>
__global__ void sgd_kernel(int64_t len, SgdParams p, float* w, float* v, const float* g) {
  CONVNET_GRID_STRIDE(i, len) {
    float wi = w[i], vi = Momentum || Paper ? v[i] : 0.f;
    sgd_element_t<Paper, Momentum, Nesterov, FirstStep>(wi, vi, g[i], p);
    w[i] = wi;
    if (Momentum || Paper) v[i] = vi;
  }
}

__global__ void adam_kernel(int64_t len, AdamParams p, float* w, float* m, float* v, const float* g) {
  CONVNET_GRID_STRIDE(i, len) adam_element(p, w, m, v, g, i);
}

}  // namespace

void activation_forward(Stream s, Activation fn, int64_t len, const float* x, float* y) {
  if (len == 0) return;
  activation_kernel<<<grid_for(len), kThreads, 0, stream_of(s)>>>(fn, len, x, y);
  check_launch("activation");
}

void activation_backward(Stream s, Activation fn, int64_t len, const float* x, const float* y, const float* dy,
                         float* dx) {
  if (len == 0) return;
  activation_backward_kernel<<<grid_for(len), kThreads, 0, stream_of(s)>>>(fn, len, x, y, dy, dx);
  check_launch("activation_backward");
}

void dropout_forward(Stream s, int64_t len, uint64_t seed, uint32_t stream, uint64_t offset, uint32_t keep_threshold,
                     float scale, const float* x, float* y, float* mask) {
  const int64_t threads = dropout_threads(len, offset);
  if (threads == 0) return;
  dropout_kernel<<<grid_for(threads), kThreads, 0, stream_of(s)>>>(threads, len, seed, stream, offset, keep_threshold,
                                                                   scale, x, y, mask);
  check_launch("dropout");
}

void binary(Stream s, BinaryOp op, int64_t len, const float* a, const float* b, float* y) {
  if (len == 0) return;
  binary_kernel<<<grid_for(len), kThreads, 0, stream_of(s)>>>(op, len, a, b, y);
  check_launch("binary");
}

void scale(Stream s, int64_t len, float alpha, const float* x, float* y) {
  if (len == 0) return;
  scale_kernel<<<grid_for(len), kThreads, 0, stream_of(s)>>>(len, alpha, x, y);
  check_launch("scale");
}

void axpy(Stream s, int64_t len, float alpha, const float* x, float* y) {
  if (len == 0) return;
  axpy_kernel<<<grid_for(len), kThreads, 0, stream_of(s)>>>(len, alpha, x, y);
  check_launch("axpy");
}

void sgd_update(Stream s, int64_t len, const SgdParams& p, float* w, float* v, const float* g) {
  if (len == 0) return;
  const unsigned b = grid_for(len);
  cudaStream_t st = stream_of(s);
  if (p.paper_rule) sgd_kernel<true, false, false, false><<<b, kThreads, 0, st>>>(len, p, w, v, g);
  else if (p.momentum == 0.f) sgd_kernel<false, false, false, false><<<b, kThreads, 0, st>>>(len, p, w, v, g);
  else if (p.nesterov && p.first_step) sgd_kernel<false, true, true, true><<<b, kThreads, 0, st>>>(len, p, w, v, g);
  else if (p.nesterov) sgd_kernel<false, true, true, false><<<b, kThreads, 0, st>>>(len, p, w, v, g);
  else if (p.first_step) sgd_kernel<false, true, false, true><<<b, kThreads, 0, st>>>(len, p, w, v, g);
  else sgd_kernel<false, true, false, false><<<b, kThreads, 0, st>>>(len, p, w, v, g);
  check_launch("sgd_update");
}

}  // namespace convnet::cuda

namespace convnet::cuda {
void adam_update(Stream s, int64_t len, const AdamParams& p, float* w, float* m, float* v, const float* g) {
  if (len <= 0) return;
  adam_kernel<<<grid_for(len), kThreads, 0, stream_of(s)>>>(len, p, w, m, v, g);
  check_launch("adam_update");
}
}  // namespace convnet::cuda
