// Launch helpers for the .cu files: 1-D grids over element counts and error checks that turn a failed
// launch into a C++ exception (the binding turns it into a JS Error naming the kernel).
#pragma once
#include <cuda_runtime.h>
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

inline void check_launch(const char* kernel) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("cuda: launching ") + kernel + " failed: " + cudaGetErrorName(e) + ": " +
                             cudaGetErrorString(e));
}

#define CONVNET_GRID_STRIDE(i, count) \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (count); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

}  // namespace convnet::cuda
