// The CUDA kernels: block-per-channel reductions in a fixed order and elementwise passes over the whole grid, the
// phases of batchnorm.h (which the host emulator runs too). Deterministic: no atomics. Every launch goes on the
// tensor's device (select_device, from the `device` attribute) and its stream; with CONVNET_CUDA_SYNC=1 each
// launch waits for its kernel, so a fault names it.
#include <cuda_runtime.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "batchnorm.h"

namespace convnet::batchnorm {

using Stream = void*;

bool sync_debug() {
  static const bool on = [] {
    const char* v = std::getenv("CONVNET_CUDA_SYNC");
    return v != nullptr && *v != 0 && std::string(v) != "0";
  }();
  return on;
}

void select_device(int device) {
  int cur = -1;
  if (cudaGetDevice(&cur) == cudaSuccess && cur == device) return;
  const cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess)
    throw std::runtime_error("batchnorm_cuda: cudaSetDevice(" + std::to_string(device) + ") failed: " +
                             cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

namespace {

void check(const char* what, Stream s) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("batchnorm_cuda: launching ") + what + " failed: " + cudaGetErrorName(e) + ": " +
                             cudaGetErrorString(e) +
                             (sync_debug() ? "" : " (kernels run asynchronously, so this may be an earlier kernel's fault: "
                                                  "rerun with CONVNET_CUDA_SYNC=1, the synchronising debug mode)"));
  if (sync_debug()) {
    e = cudaStreamSynchronize(static_cast<cudaStream_t>(s));
    if (e != cudaSuccess)
      throw std::runtime_error(std::string("batchnorm_cuda: kernel ") + what +
                               " failed while running (CONVNET_CUDA_SYNC=1): " + cudaGetErrorName(e) + ": " +
                               cudaGetErrorString(e));
  }
}

// gridDim.x: channels for the reductions (at most 2^31 − 1); the elementwise grid: x over a plane, y over rows.
dim3 elem_grid(const Dims& d) {
  const int64_t bx = (d.plane + kBnElemThreads - 1) / kBnElemThreads, rows = d.n * d.c;
  return dim3(static_cast<unsigned>(bx < 65535 ? bx : 65535), static_cast<unsigned>(rows < 65535 ? rows : 65535));
}
#define BN_ELEMENTS(row, k, d)                                                                                      \
  for (int64_t row = blockIdx.y; row < (d).n * (d).c; row += gridDim.y)                                           \
    for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < (d).plane;                  \
         k += static_cast<int64_t>(gridDim.x) * blockDim.x)

// The block's tree over sh[0..kBnThreads), barrier after each step; the sum is then sh[0] for every thread.
__device__ __forceinline__ void tree(double* sh, int t) {
  __syncthreads();
  for (int s = kBnThreads / 2; s > 0; s >>= 1) {
    bn_tree_step(sh, t, s);
    __syncthreads();
  }
}

// ptxas (sm_90): see the build log (-Xptxas -v); 2 KiB of shared memory per block (256 doubles).
__global__ void __launch_bounds__(kBnThreads) stats_kernel(Dims d, float eps, float momentum, const float* x,
                                                           float* mean, float* inv, float* rmean, float* rvar) {
  __shared__ double sh[kBnThreads];
  const int64_t ch = blockIdx.x;
  const int t = threadIdx.x;
  const double M = static_cast<double>(d.n * d.plane);
  sh[t] = bn_partial(d, ch, t, x, [](float v) { return static_cast<double>(v); });
  tree(sh, t);
  const double mu = sh[0] / M;
  __syncthreads();  // every thread has read sh[0] before it is overwritten
  sh[t] = bn_partial(d, ch, t, x, [mu](float v) { return (v - mu) * (v - mu); });
  tree(sh, t);
  if (t == 0) bn_train_finish(ch, d, eps, momentum, mu, sh[0], mean, inv, rmean, rvar);
}
__global__ void train_y_kernel(Dims d, const float* x, const float* w, const float* b, const float* mean,
                               const float* inv, float* y) {
  BN_ELEMENTS(row, k, d) bn_train_y(d, row, k, x, w, b, mean, inv, y);
}
__global__ void inference_kernel(Dims d, float eps, const float* x, const float* w, const float* b, const float* rmean,
                                 const float* rvar, float* y) {
  BN_ELEMENTS(row, k, d) bn_inference_y(d, row, k, eps, x, w, b, rmean, rvar, y);
}
__global__ void __launch_bounds__(kBnThreads) backward_stats_kernel(Dims d, const float* x, const float* dy,
                                                                    const float* mean, const float* inv, float* dw,
                                                                    float* db) {
  __shared__ double sh[2][kBnThreads];
  const int64_t ch = blockIdx.x;
  const int t = threadIdx.x;
  const double mu = mean[ch], iv = inv[ch];
  bn_partial2(d, ch, t, x, dy, [mu, iv](float v, float g, double& s0, double& s1) {
    s0 += g;
    s1 += g * (v - mu) * iv;
  }, sh[0][t], sh[1][t]);
  __syncthreads();
  for (int s = kBnThreads / 2; s > 0; s >>= 1) {
    bn_tree_step(sh[0], t, s);
    bn_tree_step(sh[1], t, s);
    __syncthreads();
  }
  if (t == 0) {
    db[ch] = static_cast<float>(sh[0][0]);
    dw[ch] = static_cast<float>(sh[1][0]);
  }
}
__global__ void backward_dx_kernel(Dims d, const float* x, const float* dy, const float* w, const float* mean,
                                   const float* inv, const float* dw, const float* db, float* dx) {
  BN_ELEMENTS(row, k, d) bn_backward_dx(d, row, k, x, dy, w, mean, inv, dw, db, dx);
}
}  // namespace

void launch_train(Stream s, const Dims& d, float eps, float momentum, const float* x, const float* w, const float* b,
                  float* y, float* mean, float* inv, float* rmean, float* rvar) {
  if (d.c == 0) return;
  const cudaStream_t st = static_cast<cudaStream_t>(s);
  stats_kernel<<<static_cast<unsigned>(d.c), kBnThreads, 0, st>>>(d, eps, momentum, x, mean, inv, rmean, rvar);
  check("batchNorm2d (statistics)", s);
  train_y_kernel<<<elem_grid(d), kBnElemThreads, 0, st>>>(d, x, w, b, mean, inv, y);
  check("batchNorm2d (normalise)", s);
}
void launch_inference(Stream s, const Dims& d, float eps, const float* x, const float* w, const float* b,
                      const float* rmean, const float* rvar, float* y) {
  if (d.c == 0) return;
  inference_kernel<<<elem_grid(d), kBnElemThreads, 0, static_cast<cudaStream_t>(s)>>>(d, eps, x, w, b, rmean, rvar, y);
  check("batchNorm2dInference", s);
}
void launch_backward(Stream s, const Dims& d, const float* x, const float* dy, const float* w, const float* mean,
                     const float* inv, float* dx, float* dw, float* db) {
  if (d.c == 0) return;
  const cudaStream_t st = static_cast<cudaStream_t>(s);
  backward_stats_kernel<<<static_cast<unsigned>(d.c), kBnThreads, 0, st>>>(d, x, dy, mean, inv, dw, db);
  check("batchNorm2dBackward (sums)", s);
  backward_dx_kernel<<<elem_grid(d), kBnElemThreads, 0, st>>>(d, x, dy, w, mean, inv, dw, db, dx);
  check("batchNorm2dBackward (dx)", s);
}

}  // namespace convnet::batchnorm
