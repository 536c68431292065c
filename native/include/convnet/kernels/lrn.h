// Local response normalisation across channels: per-element bodies shared by CPU and CUDA.
//   scale_i = k + coef · Σ_{j in window(i)} x_j²,  y_i = x_i · scale_i^(−β)
//   window(i) = [i − ⌊size/2⌋, i + ⌊(size−1)/2⌋] ∩ [0, c)
//   coef = α/size ('divide-by-size') or α ('paper')
//   dx_i = dy_i · scale_i^(−β) − 2·coef·β · x_i · Σ_{j : i in window(j)} dy_j · y_j / scale_j
// (see packages/tensor/src/kernels.ts). The CPU loops (src/cpu/lrn.cpp) slide the window sums over
// channels; a one-thread-per-element kernel can call lrn_forward_element / lrn_backward_element.
#pragma once
#include <cmath>
#include <cstdint>
#include "convnet/hd.h"

namespace convnet {

struct LrnParams {
  int64_t size;
  float coef;  // α/size ('divide-by-size') or α ('paper'): scale = k + coef · Σ x²
  float beta, k;
};

// Channels summed for channel i: [lrn_first(i), lrn_last(i)] (window(i) above).
CONVNET_HD int64_t lrn_first(const LrnParams& p, int64_t i) { return i - p.size / 2 < 0 ? 0 : i - p.size / 2; }
CONVNET_HD int64_t lrn_last(const LrnParams& p, int64_t c, int64_t i) {
  return i + (p.size - 1) / 2 > c - 1 ? c - 1 : i + (p.size - 1) / 2;
}
// Channels j whose window holds channel m (the backward sum): [m − ⌊(size−1)/2⌋, m + ⌊size/2⌋] ∩ [0, c).
CONVNET_HD int64_t lrn_back_first(const LrnParams& p, int64_t m) {
  return m - (p.size - 1) / 2 < 0 ? 0 : m - (p.size - 1) / 2;
}
CONVNET_HD int64_t lrn_back_last(const LrnParams& p, int64_t c, int64_t m) {
  return m + p.size / 2 > c - 1 ? c - 1 : m + p.size / 2;
}

CONVNET_HD float lrn_scale(const LrnParams& p, float sum_squares) { return p.k + p.coef * sum_squares; }

// s^(−0.75) as 1/(√s·⁴√s): the paper's β, several times faster than powf (and vectorisable).
CONVNET_HD float lrn_pow_neg_075(float s) {
  const float r = sqrtf(s);
  return 1.f / (r * sqrtf(r));
}
CONVNET_HD float lrn_pow_neg_beta(float s, float beta) { return beta == 0.75f ? lrn_pow_neg_075(s) : powf(s, -beta); }

// dx_i from dy_i, x_i, scale_i^(−β) and the backward window sum of dy·y/scale.
CONVNET_HD float lrn_input_grad(float dy, float x, float scale_pow, float two_coef_beta, float sum) {
  return dy * scale_pow - two_coef_beta * x * sum;
}

// y and scale of element (ci, q) of one image x [c, plane].
CONVNET_HD float lrn_forward_element(const LrnParams& p, const float* x, int64_t c, int64_t plane, int64_t ci,
                                     int64_t q, float* scale_out) {
  float sum = 0.f;
  for (int64_t j = lrn_first(p, ci); j <= lrn_last(p, c, ci); ++j) {
    const float v = x[j * plane + q];
    sum += v * v;
  }
  const float s = lrn_scale(p, sum);
  *scale_out = s;
  return x[ci * plane + q] * lrn_pow_neg_beta(s, p.beta);
}

// dx of element (m, q) of one image (all arrays [c, plane]).
CONVNET_HD float lrn_backward_element(const LrnParams& p, const float* x, const float* y, const float* scale,
                                      const float* dy, int64_t c, int64_t plane, int64_t m, int64_t q) {
  float sum = 0.f;
  for (int64_t j = lrn_back_first(p, m); j <= lrn_back_last(p, c, m); ++j) {
    const int64_t k = j * plane + q;
    sum += dy[k] * y[k] / scale[k];
  }
  const int64_t k = m * plane + q;
  return lrn_input_grad(dy[k], x[k], lrn_pow_neg_beta(scale[k], p.beta), 2.f * p.coef * p.beta, sum);
}

}  // namespace convnet
