// Deterministic block reductions, written as per-thread phases shared by the CUDA kernels and the host
// emulator: each of T threads sums a strided slice (thread t takes items t, t + T, ...), then a tree in
// shared memory halves the active threads (sh[t] += sh[t + s] for s = T/2, T/4, ..., 1). The order of
// additions is fixed by T, never by scheduling, so results repeat bit for bit.
#pragma once
#include <cstdint>
#include "convnet/hd.h"

namespace convnet::cuda {

constexpr int kReduceThreads = 256;  // threads per reducing block (a power of two)
constexpr int kReduceBlocks = 128;   // blocks of the first pass of a whole-tensor reduction

template <class T>
CONVNET_HD void tree_step(T* sh, int tid, int s) {
  if (tid < s) sh[tid] += sh[tid + s];
}

// Bias gradient of channel ch: thread tid's share of Σ_{i<n, j<inner} dy[i, ch, j].
CONVNET_HD float bias_grad_partial(int64_t n, int64_t c, int64_t inner, const float* dy, int64_t ch, int tid) {
  float sum = 0.f;
  const int64_t total = n * inner;
  for (int64_t f = tid; f < total; f += kReduceThreads) {
    const int64_t i = f / inner, j = f % inner;
    sum += dy[(i * c + ch) * inner + j];
  }
  return sum;
}

// Σ x and Σ x² (float64) of the items global thread g (of `threads`) takes.
CONVNET_HD void sum_squares_partial(int64_t len, const float* x, int64_t g, int64_t threads, double* s, double* q) {
  double a = 0, b = 0;
  for (int64_t i = g; i < len; i += threads) {
    const double v = x[i];
    a += v;
    b += v * v;
  }
  *s = a;
  *q = b;
}

}  // namespace convnet::cuda
