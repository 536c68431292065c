// Batch normalisation over x [n, c, plane] (NCHW, plane = h·w), one channel per call: the bodies shared by the
// CUDA kernels (one thread per channel) and their host emulator. Sums in double, two passes (mean, then squared
// deviations), so both give the numbers of the `ref` kernels (src/ref.ts), which documents the math. The CPU addon
// runs its own vectorised, multi-threaded bodies (batchnorm_cpu_kernel.h) on the same math.
#pragma once
#include <cmath>
#include <cstdint>

#include "convnet/hd.h"

namespace convnet::batchnorm {

struct Dims {
  int64_t n, c, plane;
};

// Training forward of channel ch: y, saved mean and 1/√(var + eps), running statistics updated in place.
CONVNET_HD void train_channel(int64_t ch, const Dims& d, float eps, float momentum, const float* x, const float* weight,
                              const float* bias, float* y, float* save_mean, float* save_inv_std, float* running_mean,
                              float* running_var) {
  const int64_t M = d.n * d.plane;
  double s = 0;
  for (int64_t i = 0; i < d.n; ++i) {
    const float* p = x + (i * d.c + ch) * d.plane;
    for (int64_t k = 0; k < d.plane; ++k) s += p[k];
  }
  const double mean = s / static_cast<double>(M);
  double v = 0;
  for (int64_t i = 0; i < d.n; ++i) {
    const float* p = x + (i * d.c + ch) * d.plane;
    for (int64_t k = 0; k < d.plane; ++k) v += (p[k] - mean) * (p[k] - mean);
  }
  const double var = v / static_cast<double>(M);
  const double inv = 1.0 / sqrt(var + static_cast<double>(eps));
  save_mean[ch] = static_cast<float>(mean);
  save_inv_std[ch] = static_cast<float>(inv);
  const double a = inv * weight[ch], b = bias[ch] - mean * inv * weight[ch];
  for (int64_t i = 0; i < d.n; ++i) {
    const float* p = x + (i * d.c + ch) * d.plane;
    float* q = y + (i * d.c + ch) * d.plane;
    for (int64_t k = 0; k < d.plane; ++k) q[k] = static_cast<float>(p[k] * a + b);
  }
  const double m = momentum;
  const double unbiased = M > 1 ? var * static_cast<double>(M) / static_cast<double>(M - 1) : var;
  running_mean[ch] = static_cast<float>((1 - m) * running_mean[ch] + m * mean);
  running_var[ch] = static_cast<float>((1 - m) * running_var[ch] + m * unbiased);
}

// Inference forward of channel ch with the running statistics.
CONVNET_HD void inference_channel(int64_t ch, const Dims& d, float eps, const float* x, const float* weight,
                                  const float* bias, const float* running_mean, const float* running_var, float* y) {
  const double inv = 1.0 / sqrt(static_cast<double>(running_var[ch]) + static_cast<double>(eps));
  const double a = inv * weight[ch], b = bias[ch] - running_mean[ch] * inv * weight[ch];
  for (int64_t i = 0; i < d.n; ++i) {
    const float* p = x + (i * d.c + ch) * d.plane;
    float* q = y + (i * d.c + ch) * d.plane;
    for (int64_t k = 0; k < d.plane; ++k) q[k] = static_cast<float>(p[k] * a + b);
  }
}

// Backward of channel ch: dbias = Σ dy, dweight = Σ dy·x̂, dx = weight·invStd/M·(M·dy − dbias − x̂·dweight).
CONVNET_HD void backward_channel(int64_t ch, const Dims& d, const float* x, const float* dy, const float* weight,
                                 const float* save_mean, const float* save_inv_std, float* dx, float* dweight,
                                 float* dbias) {
  const int64_t M = d.n * d.plane;
  const double mean = save_mean[ch], inv = save_inv_std[ch];
  double sdy = 0, sdyx = 0;
  for (int64_t i = 0; i < d.n; ++i) {
    const float* p = x + (i * d.c + ch) * d.plane;
    const float* g = dy + (i * d.c + ch) * d.plane;
    for (int64_t k = 0; k < d.plane; ++k) {
      sdy += g[k];
      sdyx += g[k] * (p[k] - mean) * inv;
    }
  }
  dbias[ch] = static_cast<float>(sdy);
  dweight[ch] = static_cast<float>(sdyx);
  const double scale = weight[ch] * inv / static_cast<double>(M);
  for (int64_t i = 0; i < d.n; ++i) {
    const float* p = x + (i * d.c + ch) * d.plane;
    const float* g = dy + (i * d.c + ch) * d.plane;
    float* q = dx + (i * d.c + ch) * d.plane;
    for (int64_t k = 0; k < d.plane; ++k)
      q[k] = static_cast<float>(scale * (static_cast<double>(M) * g[k] - sdy - (p[k] - mean) * inv * sdyx));
  }
}

}  // namespace convnet::batchnorm
