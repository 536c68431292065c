// Cross-channel LRN (bodies and formulas: include/convnet/kernels/lrn.h) with a running window sum over
// channels, vectorised along the spatial plane. Work is split into (image, block of channels) tasks; each
// task seeds its running sum at its first channel, so a task's result does not depend on the others, and
// the sum drifts over at most kChannelBlock updates. Per-task scratch: the squares (or dy·y/scale) of the
// channels the block's windows touch, and the running sum, from the caller's workspace.
#include <algorithm>
#include <cmath>

#include "convnet/kernels.h"
#include "convnet/threadpool.h"
#include "workspace.h"

namespace convnet {
namespace {

constexpr int64_t kChannelBlock = 16;

// sum = Σ src_j over j in [c0 − lo_off, c0 + hi_off] ∩ [0, c) plane-wise; then for each ci in [c0, c1):
// emit(ci, sum) with sum over [ci − lo_off, ci + hi_off] ∩ [0, c). src holds channels from `base` on.
template <class Emit>
void window_sums(const float* src, int64_t base, int64_t c, int64_t plane, int64_t c0, int64_t c1, int64_t lo_off,
                 int64_t hi_off, float* sum, Emit emit) {
  for (int64_t q = 0; q < plane; ++q) sum[q] = 0.f;
  for (int64_t j = std::max<int64_t>(0, c0 - lo_off); j <= std::min<int64_t>(c - 1, c0 + hi_off); ++j) {
    const float* s = src + (j - base) * plane;
    for (int64_t q = 0; q < plane; ++q) sum[q] += s[q];
  }
  for (int64_t ci = c0; ci < c1; ++ci) {
    if (ci > c0) {
      const int64_t add = ci + hi_off, drop = ci - lo_off - 1;
      if (add < c && drop >= 0) {
        const float* a = src + (add - base) * plane;
        const float* d = src + (drop - base) * plane;
        for (int64_t q = 0; q < plane; ++q) sum[q] = (sum[q] + a[q]) - d[q];
      } else if (add < c) {
        const float* a = src + (add - base) * plane;
        for (int64_t q = 0; q < plane; ++q) sum[q] += a[q];
      } else if (drop >= 0) {
        const float* d = src + (drop - base) * plane;
        for (int64_t q = 0; q < plane; ++q) sum[q] -= d[q];
      }
    }
    emit(ci, sum);
  }
}

struct Tasks {
  int64_t blocks, count;
  Tasks(int64_t n, int64_t c) : blocks((c + kChannelBlock - 1) / kChannelBlock), count(n * blocks) {}
};

}  // namespace

void lrn_forward(int64_t n, int64_t c, int64_t plane, const LrnParams& p, const float* x, float* y, float* scale) {
  if (n == 0 || c == 0 || plane == 0) return;
  const Tasks tasks(n, c);
  const int64_t before = p.size / 2, after = (p.size - 1) / 2;
  // per thread: squares of up to kChannelBlock + size − 1 channels, and the running sum
  const int64_t span = std::min<int64_t>(c, kChannelBlock + p.size - 1);
  const size_t stride = slice_stride((span + 1) * plane);
  float* ws = workspace(stride * static_cast<size_t>(num_threads()));
  const bool fast_pow = p.beta == 0.75f;
  parallel_tasks(tasks.count, [&](int64_t task, int tid) {
    const int64_t img = task / tasks.blocks, c0 = (task % tasks.blocks) * kChannelBlock;
    const int64_t c1 = std::min(c, c0 + kChannelBlock);
    const float* xi = x + img * c * plane;
    // squares of the channels [lo, hi) this block's windows touch, stored from sq[0]
    const int64_t lo = std::max<int64_t>(0, c0 - before), hi = std::min<int64_t>(c, c1 + after);
    float* sq = ws + static_cast<size_t>(tid) * stride;
    float* sum = sq + span * plane;
    for (int64_t j = lo; j < hi; ++j) {
      const float* xs = xi + j * plane;
      float* d = sq + (j - lo) * plane;
      for (int64_t q = 0; q < plane; ++q) d[q] = xs[q] * xs[q];
    }
    window_sums(sq, lo, c, plane, c0, c1, before, after, sum, [&](int64_t ci, const float* s) {
      float* sc = scale + (img * c + ci) * plane;
      float* yo = y + (img * c + ci) * plane;
      const float* xo = xi + ci * plane;
      if (fast_pow) {
        for (int64_t q = 0; q < plane; ++q) {
          const float v = lrn_scale(p, s[q]);
          sc[q] = v;
          yo[q] = xo[q] * lrn_pow_neg_075(v);
        }
      } else {
        for (int64_t q = 0; q < plane; ++q) {
          const float v = lrn_scale(p, s[q]);
          sc[q] = v;
          yo[q] = xo[q] * powf(v, -p.beta);
        }
      }
    });
  });
}

void lrn_backward(int64_t n, int64_t c, int64_t plane, const LrnParams& p, const float* x, const float* y,
                  const float* scale, const float* dy, float* dx) {
  if (n == 0 || c == 0 || plane == 0) return;
  const Tasks tasks(n, c);
  const int64_t before = p.size / 2, after = (p.size - 1) / 2;
  const int64_t span = std::min<int64_t>(c, kChannelBlock + p.size - 1);
  const size_t stride = slice_stride((span + 1) * plane);
  float* ws = workspace(stride * static_cast<size_t>(num_threads()));
  const bool fast_pow = p.beta == 0.75f;
  const float two_coef_beta = 2.f * p.coef * p.beta;
  parallel_tasks(tasks.count, [&](int64_t task, int tid) {
    const int64_t img = task / tasks.blocks, c0 = (task % tasks.blocks) * kChannelBlock;
    const int64_t c1 = std::min(c, c0 + kChannelBlock);
    const int64_t off = img * c * plane;
    // t_j = dy_j · y_j / scale_j for the channels j whose windows hold one of this block's channels:
    // j in [m − after, m + before] (lrn_back_first / lrn_back_last)
    const int64_t lo = std::max<int64_t>(0, c0 - after), hi = std::min<int64_t>(c, c1 + before);
    float* t = ws + static_cast<size_t>(tid) * stride;
    float* sum = t + span * plane;
    for (int64_t j = lo; j < hi; ++j) {
      const int64_t k = off + j * plane;
      float* d = t + (j - lo) * plane;
      for (int64_t q = 0; q < plane; ++q) d[q] = dy[k + q] * y[k + q] / scale[k + q];
    }
    window_sums(t, lo, c, plane, c0, c1, after, before, sum, [&](int64_t m, const float* s) {
      const int64_t k = off + m * plane;
      const float *sc = scale + k, *d = dy + k, *xm = x + k;
      float* o = dx + k;
      if (fast_pow) {
        for (int64_t q = 0; q < plane; ++q)
          o[q] = lrn_input_grad(d[q], xm[q], lrn_pow_neg_075(sc[q]), two_coef_beta, s[q]);
      } else {
        for (int64_t q = 0; q < plane; ++q)
          o[q] = lrn_input_grad(d[q], xm[q], powf(sc[q], -p.beta), two_coef_beta, s[q]);
      }
    });
  });
}

}  // namespace convnet
