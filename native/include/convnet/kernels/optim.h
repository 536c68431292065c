// Per-element / per-row bodies shared by the cpu kernels (src/cpu/elementwise.cpp), the CUDA kernels and the
// CUDA host emulator: the Adam/AdamW step and the softmax backward. Both follow @convnet/tensor's reference
// (ref/adam.ts, ref/loss.ts) operation by operation: float64 arithmetic, float32 stores in the same order, so
// every backend repeats the reference. (Compiled without FMA contraction on the host: the generic files.)
#pragma once
#include <cmath>
#include <cstdint>
#include "convnet/hd.h"

namespace convnet {

// stepSize and sqrtBc2 come from the caller (TypeScript computes them as the reference does, with JS's **).
struct AdamParams {
  double lr, beta1, beta2, eps, weight_decay;
  double step_size;  // lr / (1 − β1^t), computed once on the host
  double sqrt_bc2;   // √(1 − β2^t)
  bool decoupled;
};

CONVNET_HD void adam_element(const AdamParams& p, float* w, float* m, float* v, const float* g, int64_t i) {
  double gi = g[i];
  if (p.decoupled) w[i] = static_cast<float>(static_cast<double>(w[i]) * (1.0 - p.lr * p.weight_decay));
  else if (p.weight_decay != 0.0) gi += p.weight_decay * static_cast<double>(w[i]);
  m[i] = static_cast<float>(p.beta1 * static_cast<double>(m[i]) + (1.0 - p.beta1) * gi);
  v[i] = static_cast<float>(p.beta2 * static_cast<double>(v[i]) + (1.0 - p.beta2) * gi * gi);
  const double upd = (p.step_size * static_cast<double>(m[i])) / (sqrt(static_cast<double>(v[i])) / p.sqrt_bc2 + p.eps);
  w[i] = static_cast<float>(static_cast<double>(w[i]) - upd);
}

// dx = y ⊙ (dy − Σ dy ⊙ y) for one row of `classes` (the dot product in float64, in column order).
CONVNET_HD void softmax_backward_row(const float* y, const float* dy, float* dx, int64_t classes) {
  double dot = 0;
  for (int64_t j = 0; j < classes; ++j) dot += static_cast<double>(dy[j]) * static_cast<double>(y[j]);
  for (int64_t j = 0; j < classes; ++j)
    dx[j] = static_cast<float>(static_cast<double>(y[j]) * (static_cast<double>(dy[j]) - dot));
}

}  // namespace convnet
