// Launch helpers for the .cu files: 1-D grids over element counts and error checks that turn a failed
// launch into a C++ exception (the binding turns it into a JS Error naming the kernel).
#pragma once
#include <cuda_runtime.h>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "launch.h"

namespace convnet::cuda {

constexpr int kThreads = 256;

inline cudaStream_t stream_of(Stream s) { return static_cast<cudaStream_t>(s); }

// Blocks for `count` threads (grid-stride loops cover the rest beyond 2^31 − 1 blocks).
inline unsigned grid_for(int64_t count) {
  const int64_t b = (count + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 0x7fffffff ? 0x7fffffff : b));
}

// The synchronising debug mode (CONVNET_CUDA_SYNC=1): every launch waits for its kernel, so a fault is
// reported by the launch that caused it. Without it kernels run asynchronously and a fault surfaces at a later
// call, whose error then names the mode.
inline bool sync_debug() {
  static const bool on = [] {
    const char* v = std::getenv("CONVNET_CUDA_SYNC");
    return v != nullptr && *v != 0 && std::string(v) != "0";
  }();
  return on;
}

inline const char* async_hint() {
  return sync_debug() ? ""
                      : " (kernels run asynchronously, so this may be an earlier kernel's fault: rerun with "
                        "CONVNET_CUDA_SYNC=1, the synchronising debug mode, to name the kernel)";
}

inline void check_launch(const char* kernel) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("cuda: launching ") + kernel + " failed: " + cudaGetErrorName(e) + ": " +
                             cudaGetErrorString(e) + async_hint());
  if (sync_debug()) {
    e = cudaDeviceSynchronize();
    if (e != cudaSuccess)
      throw std::runtime_error(std::string("cuda: kernel ") + kernel + " failed while running (CONVNET_CUDA_SYNC=1): " +
                               cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
  }
}

#define CONVNET_GRID_STRIDE(i, count) \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (count); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

}  // namespace convnet::cuda
