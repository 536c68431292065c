// Softmax and softmax cross-entropy of one row: bodies shared by CPU and CUDA (one thread or one block
// per row). x, logits, y, dlogits: one row of `classes` floats. Matches packages/tensor/src/ref/loss.ts:
// shift by the row maximum; loss = log Σ exp(x − max) + max − x[label]; dlogits = (softmax − onehot)/n;
// a row is a top-k hit when fewer than k classes have a strictly larger logit than its label's.
#pragma once
#include <cmath>
#include <cstdint>
#include "convnet/hd.h"

namespace convnet {

CONVNET_HD float row_max(const float* x, int64_t classes) {
  float m = -INFINITY;
  for (int64_t j = 0; j < classes; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

CONVNET_HD void softmax_row(const float* x, int64_t classes, float* y) {
  const float m = row_max(x, classes);
  float sum = 0.f;
  for (int64_t j = 0; j < classes; ++j) sum += expf(x[j] - m);
  const float inv = 1.f / sum;
  for (int64_t j = 0; j < classes; ++j) y[j] = expf(x[j] - m) * inv;
}

struct XentRow {
  float loss;      // −log softmax(x)[label]
  int32_t larger;  // classes with a strictly larger logit than the label's
};

// Writes dlogits of the row (scaled by inv_n) and returns its loss and rank.
CONVNET_HD XentRow softmax_xent_row(const float* x, int64_t classes, int32_t label, float inv_n, float* dlogits) {
  const float m = row_max(x, classes);
  float sum = 0.f;
  for (int64_t j = 0; j < classes; ++j) sum += expf(x[j] - m);
  const float log_sum = logf(sum);
  const float target = x[label];
  int32_t larger = 0;
  for (int64_t j = 0; j < classes; ++j) {
    const float p = expf(x[j] - m - log_sum);
    dlogits[j] = (p - (j == label ? 1.f : 0.f)) * inv_n;
    larger += x[j] > target ? 1 : 0;
  }
  return XentRow{log_sum + m - target, larger};
}

// The batch's totals from the per-row results, summed in row order (one thread on the device):
// out = {mean loss, top-1 hits, top-k hits}.
CONVNET_HD void xent_totals(int64_t n, int64_t topk, const float* row_loss, const int32_t* row_larger, double* out) {
  double loss = 0, top1 = 0, topK = 0;
  for (int64_t r = 0; r < n; ++r) {
    loss += row_loss[r];
    top1 += row_larger[r] < 1 ? 1 : 0;
    topK += row_larger[r] < topk ? 1 : 0;
  }
  out[0] = n > 0 ? loss / static_cast<double>(n) : 0.0;
  out[1] = top1;
  out[2] = topK;
}

}  // namespace convnet
