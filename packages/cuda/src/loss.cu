// Softmax, softmax cross-entropy with top-k counts (one thread per row, native/include/convnet/kernels/loss.h;
// the per-row results are summed in row order by one thread, so the loss repeats bit for bit), and the
// float64 sum / sum of squares (two-pass deterministic reduction, kernels/reduce.h).
#include "convnet/kernels/loss.h"
#include "cuda_util.cuh"
#include "convnet/kernels/optim.h"
#include "kernels/reduce.h"

namespace convnet::cuda {
namespace {

__global__ void softmax_kernel(int64_t n, int64_t classes, const float* x, float* y) {
  CONVNET_GRID_STRIDE(r, n) softmax_row(x + r * classes, classes, y + r * classes);
}

__global__ void xent_rows_kernel(int64_t n, int64_t classes, const float* logits, const int32_t* labels, float* dlogits,
                                 float* row_loss, int32_t* row_larger) {
  CONVNET_GRID_STRIDE(r, n) {
    const XentRow x = softmax_xent_row(logits + r * classes, classes, labels[r], 1.f / static_cast<float>(n),
                                       dlogits + r * classes);
    row_loss[r] = x.loss;
    row_larger[r] = x.larger;
  }
}

__global__ void xent_total_kernel(int64_t n, int64_t topk, const float* row_loss, const int32_t* row_larger, double* out) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  xent_totals(n, topk, row_loss, row_larger, out);
}

__global__ void __launch_bounds__(kReduceThreads) sum_squares_pass1(int64_t len, const float* x, double* partial) {
  __shared__ double sh_s[kReduceThreads];
  __shared__ double sh_q[kReduceThreads];
  const int tid = threadIdx.x;
  sum_squares_partial(len, x, static_cast<int64_t>(blockIdx.x) * kReduceThreads + tid,
                      static_cast<int64_t>(kReduceBlocks) * kReduceThreads, &sh_s[tid], &sh_q[tid]);
  __syncthreads();
  for (int s = kReduceThreads / 2; s > 0; s >>= 1) {
    tree_step(sh_s, tid, s);
    tree_step(sh_q, tid, s);
    __syncthreads();
  }
  if (tid == 0) {
    partial[2 * blockIdx.x] = sh_s[0];
    partial[2 * blockIdx.x + 1] = sh_q[0];
  }
}

__global__ void sum_squares_pass2(const double* partial, double* out) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  double s = 0, q = 0;
  for (int b = 0; b < kReduceBlocks; ++b) {
    s += partial[2 * b];
    q += partial[2 * b + 1];
  }
  out[0] = s;
  out[1] = q;
}

__global__ void softmax_backward_kernel(int64_t n, int64_t classes, const float* y, const float* dy, float* dx) {
  CONVNET_GRID_STRIDE(r, n) softmax_backward_row(y + r * classes, dy + r * classes, dx + r * classes, classes);
}

}  // namespace

void softmax(Stream s, int64_t n, int64_t classes, const float* x, float* y) {
  if (n == 0 || classes == 0) return;
  softmax_kernel<<<grid_for(n), kThreads, 0, stream_of(s)>>>(n, classes, x, y);
  check_launch("softmax");
}

void softmax_backward(Stream s, int64_t n, int64_t classes, const float* y, const float* dy, float* dx) {
  if (n == 0 || classes == 0) return;
  softmax_backward_kernel<<<grid_for(n), kThreads, 0, stream_of(s)>>>(n, classes, y, dy, dx);
  check_launch("softmax_backward");
}

size_t softmax_xent_workspace(int64_t n) { return static_cast<size_t>(n) * (sizeof(float) + sizeof(int32_t)); }

void softmax_xent(Stream s, int64_t n, int64_t classes, int64_t topk, const float* logits, const int32_t* labels,
                  float* dlogits, void* ws, double* out) {
  float* row_loss = static_cast<float*>(ws);
  int32_t* row_larger = reinterpret_cast<int32_t*>(row_loss + n);
  if (n > 0)
    xent_rows_kernel<<<grid_for(n), kThreads, 0, stream_of(s)>>>(n, classes, logits, labels, dlogits, row_loss, row_larger);
  xent_total_kernel<<<1, 1, 0, stream_of(s)>>>(n, topk, row_loss, row_larger, out);
  check_launch("softmax_xent");
}

size_t sum_squares_workspace() { return 2 * kReduceBlocks * sizeof(double); }

void sum_and_squares(Stream s, int64_t len, const float* x, void* ws, double* out) {
  double* partial = static_cast<double*>(ws);
  sum_squares_pass1<<<kReduceBlocks, kReduceThreads, 0, stream_of(s)>>>(len, x, partial);
  sum_squares_pass2<<<1, 1, 0, stream_of(s)>>>(partial, out);
  check_launch("sum_and_squares");
}

}  // namespace convnet::cuda
