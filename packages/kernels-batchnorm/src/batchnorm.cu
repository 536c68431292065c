// The CUDA kernels: one thread per channel runs the shared body (batchnorm.h), so the device computes exactly
// what the host emulator computes (sums in double, two passes; deterministic, no atomics).
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "batchnorm.h"

namespace convnet::batchnorm {

using Stream = void*;

namespace {
constexpr int kThreads = 64;
int blocks(int64_t c) { return static_cast<int>((c + kThreads - 1) / kThreads); }
void check(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw std::runtime_error(std::string("batchnorm_cuda.") + what + ": " + cudaGetErrorString(e));
}

__global__ void train_kernel(Dims d, float eps, float momentum, const float* x, const float* w, const float* b, float* y,
                             float* mean, float* inv, float* rmean, float* rvar) {
  const int64_t ch = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (ch < d.c) train_channel(ch, d, eps, momentum, x, w, b, y, mean, inv, rmean, rvar);
}
__global__ void inference_kernel(Dims d, float eps, const float* x, const float* w, const float* b, const float* rmean,
                                 const float* rvar, float* y) {
  const int64_t ch = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (ch < d.c) inference_channel(ch, d, eps, x, w, b, rmean, rvar, y);
}
__global__ void backward_kernel(Dims d, const float* x, const float* dy, const float* w, const float* mean,
                                const float* inv, float* dx, float* dw, float* db) {
  const int64_t ch = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (ch < d.c) backward_channel(ch, d, x, dy, w, mean, inv, dx, dw, db);
}
}  // namespace

void launch_train(Stream s, const Dims& d, float eps, float momentum, const float* x, const float* w, const float* b,
                  float* y, float* mean, float* inv, float* rmean, float* rvar) {
  if (d.c == 0) return;
  train_kernel<<<blocks(d.c), kThreads, 0, static_cast<cudaStream_t>(s)>>>(d, eps, momentum, x, w, b, y, mean, inv,
                                                                            rmean, rvar);
  check("batchNorm2d");
}
void launch_inference(Stream s, const Dims& d, float eps, const float* x, const float* w, const float* b,
                      const float* rmean, const float* rvar, float* y) {
  if (d.c == 0) return;
  inference_kernel<<<blocks(d.c), kThreads, 0, static_cast<cudaStream_t>(s)>>>(d, eps, x, w, b, rmean, rvar, y);
  check("batchNorm2dInference");
}
void launch_backward(Stream s, const Dims& d, const float* x, const float* dy, const float* w, const float* mean,
                     const float* inv, float* dx, float* dw, float* db) {
  if (d.c == 0) return;
  backward_kernel<<<blocks(d.c), kThreads, 0, static_cast<cudaStream_t>(s)>>>(d, x, dy, w, mean, inv, dx, dw, db);
  check("batchNorm2dBackward");
}

}  // namespace convnet::batchnorm
