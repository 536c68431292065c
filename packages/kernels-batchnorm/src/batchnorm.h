// Batch normalisation over x [n, c, plane] (NCHW, plane = h·w): the phases of the CUDA kernels (batchnorm.cu),
// written once so the host emulator (bind.cpp, CONVNET_BN_HOST) runs the very same code, block by block and
// thread by thread, with the barrier between phases. The math is src/ref.ts's.
//
// Structure (the shape of a fast GPU batch norm, deterministic: no atomics, one fixed summation order):
//   statistics     one block of kBnThreads threads per channel. Thread t sums, in double, the elements
//                  t, t + kBnThreads, t + 2·kBnThreads, ... of the channel (images in order, a plane's offsets in
//                  order: coalesced 128-byte reads per warp within a plane), then a shared-memory tree
//                  (s = 128, 64, ..., 1: sh[t] += sh[t + s]) combines the partials in a fixed order. Training:
//                  two such reductions (Σx, then Σ(x − mean)²: two passes, no cancellation); backward: one
//                  (Σdy and Σdy·x̂ together). Thread 0 writes the channel's statistics.
//   elementwise    y (forward) and dx (backward) over the whole grid: blockIdx.y walks the (image, channel)
//                  rows, blockIdx.x·blockDim.x + threadIdx.x the offsets in a plane, so the channel is one
//                  division per block (no per-element index arithmetic) and every SM has work.
// The elementwise passes read the float statistics the reduction wrote: y = (x − mean)·(invStd·weight) + bias,
// dx = weight·invStd·(dy − dbias/M − (x − mean)·invStd·dweight/M), in float (the rounding of mean to float
// moves y by |mean|/σ · 2^-24 relative to the output's scale).
//
// Expected speed (memory-bound; H100 ~3.3 TB/s): training forward reads x three times and writes y once,
// backward reads x and dy twice and writes dx: ≈ 4 and 5 passes over the activations. A block per channel
// saturates bandwidth once c ≥ ~2 × SMs (264 on an H100); with fewer channels (small-bn: 64-192) the two
// reduction passes run at c/264 of it, the elementwise ones at full speed. The double adds cost nothing against
// the loads (one per 4-byte element; the H100 does 64 FP64 adds per SM per clock).
#pragma once
#include <cmath>
#include <cstdint>

#include "convnet/hd.h"

namespace convnet::batchnorm {

struct Dims {
  int64_t n, c, plane;
};

constexpr int kBnThreads = 256;  // threads of a reduction block (a power of two: the tree halves it)
constexpr int kBnElemThreads = 256;  // threads of an elementwise block

// Σ over the elements of channel ch that thread t owns (t, t + kBnThreads, ...), in order, in double, of f(x)
// or f(x, dy). The walk keeps (image, offset) and divides only when it wraps past a plane.
template <class F>
CONVNET_HD double bn_partial(const Dims& d, int64_t ch, int t, const float* x, F f) {
  double s = 0;
  int64_t img = t / d.plane, k = t % d.plane;
  while (img < d.n) {
    s += f(x[(img * d.c + ch) * d.plane + k]);
    k += kBnThreads;
    if (k >= d.plane) {
      img += k / d.plane;
      k %= d.plane;
    }
  }
  return s;
}
template <class F>
CONVNET_HD void bn_partial2(const Dims& d, int64_t ch, int t, const float* x, const float* dy, F f, double& s0,
                            double& s1) {
  s0 = 0;
  s1 = 0;
  int64_t img = t / d.plane, k = t % d.plane;
  while (img < d.n) {
    const int64_t at = (img * d.c + ch) * d.plane + k;
    f(x[at], dy[at], s0, s1);
    k += kBnThreads;
    if (k >= d.plane) {
      img += k / d.plane;
      k %= d.plane;
    }
  }
}

// One step of the fixed tree over a block's partials (every thread, then a barrier).
CONVNET_HD void bn_tree_step(double* sh, int t, int s) {
  if (t < s) sh[t] += sh[t + s];
}

// Thread 0 of a training block: the channel's saved statistics and running statistics.
CONVNET_HD void bn_train_finish(int64_t ch, const Dims& d, float eps, float momentum, double mean, double sq,
                                float* save_mean, float* save_inv_std, float* running_mean, float* running_var) {
  const int64_t M = d.n * d.plane;
  const double var = sq / static_cast<double>(M);
  save_mean[ch] = static_cast<float>(mean);
  save_inv_std[ch] = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
  const double m = momentum;
  const double unbiased = M > 1 ? var * static_cast<double>(M) / static_cast<double>(M - 1) : var;
  running_mean[ch] = static_cast<float>((1 - m) * running_mean[ch] + m * mean);
  running_var[ch] = static_cast<float>((1 - m) * running_var[ch] + m * unbiased);
}

// Elementwise bodies: row = image·c + channel, k = offset in the plane.
CONVNET_HD void bn_train_y(const Dims& d, int64_t row, int64_t k, const float* x, const float* weight,
                           const float* bias, const float* mean, const float* inv, float* y) {
  const int64_t ch = row % d.c, at = row * d.plane + k;
  y[at] = (x[at] - mean[ch]) * (inv[ch] * weight[ch]) + bias[ch];
}
CONVNET_HD void bn_inference_y(const Dims& d, int64_t row, int64_t k, float eps, const float* x, const float* weight,
                               const float* bias, const float* running_mean, const float* running_var, float* y) {
  const int64_t ch = row % d.c, at = row * d.plane + k;
  const float a = static_cast<float>(weight[ch] / sqrt(static_cast<double>(running_var[ch]) + static_cast<double>(eps)));
  y[at] = (x[at] - running_mean[ch]) * a + bias[ch];
}
CONVNET_HD void bn_backward_dx(const Dims& d, int64_t row, int64_t k, const float* x, const float* dy,
                               const float* weight, const float* mean, const float* inv, const float* dweight,
                               const float* dbias, float* dx) {
  const int64_t ch = row % d.c, at = row * d.plane + k;
  const float rM = 1.0f / static_cast<float>(d.n * d.plane), iv = inv[ch];
  dx[at] = weight[ch] * iv * (dy[at] - dbias[ch] * rM - (x[at] - mean[ch]) * iv * dweight[ch] * rM);
}

}  // namespace convnet::batchnorm
