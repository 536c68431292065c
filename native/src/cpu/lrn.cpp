// Cross-channel LRN with a running window sum over channels, vectorised along the spatial plane.
// Work is split into (image, channel block) tasks; each task seeds its running sum at its first channel.
#include <cmath>
#include <vector>

#include "convnet/kernels.h"
#include "convnet/threadpool.h"

namespace convnet {
namespace {

float* scratch(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// s^(−β), with the common β = 0.75 as 1/(√s·⁴√s) (several times faster than powf).
inline void pow_neg_beta(const float* s, float* out, int64_t len, float beta) {
  if (beta == 0.75f) {
    for (int64_t i = 0; i < len; ++i) {
      const float r = std::sqrt(s[i]);
      out[i] = 1.f / (r * std::sqrt(r));
    }
  } else {
    for (int64_t i = 0; i < len; ++i) out[i] = std::pow(s[i], -beta);
  }
}

constexpr int64_t kChannelBlock = 16;

// For channels [c0, c1) of image `img`: out_c = Σ_{j in [c − lo_off, c + hi_off] ∩ [0, c)} src_j, plane-wise.
template <class Emit>
void window_sums(const float* src, int64_t c, int64_t plane, int64_t c0, int64_t c1, int64_t lo_off, int64_t hi_off,
                 float* sum, Emit emit) {
  for (int64_t p = 0; p < plane; ++p) sum[p] = 0.f;
  for (int64_t j = std::max<int64_t>(0, c0 - lo_off); j <= std::min<int64_t>(c - 1, c0 + hi_off); ++j) {
    const float* s = src + j * plane;
    for (int64_t p = 0; p < plane; ++p) sum[p] += s[p];
  }
  for (int64_t ci = c0; ci < c1; ++ci) {
    if (ci > c0) {
      const int64_t add = ci + hi_off, drop = ci - lo_off - 1;
      if (add < c) { const float* s = src + add * plane; for (int64_t p = 0; p < plane; ++p) sum[p] += s[p]; }
      if (drop >= 0) { const float* s = src + drop * plane; for (int64_t p = 0; p < plane; ++p) sum[p] -= s[p]; }
    }
    emit(ci, sum);
  }
}

}  // namespace

void lrn_forward(int64_t n, int64_t c, int64_t plane, const LrnParams& p, const float* x, float* y, float* scale) {
  const int64_t before = p.size / 2, after = (p.size - 1) / 2;
  const int64_t blocks = (c + kChannelBlock - 1) / kChannelBlock;
  parallel_tasks(n * blocks, [&](int64_t task, int) {
    const int64_t img = task / blocks, c0 = (task % blocks) * kChannelBlock, c1 = std::min(c, c0 + kChannelBlock);
    const float* xi = x + img * c * plane;
    float* sq = scratch(static_cast<size_t>((c + 1) * plane));
    // squares of the channels this block's windows touch
    const int64_t lo = std::max<int64_t>(0, c0 - before), hi = std::min<int64_t>(c, c1 + after);
    for (int64_t j = lo; j < hi; ++j)
      for (int64_t q = 0; q < plane; ++q) sq[j * plane + q] = xi[j * plane + q] * xi[j * plane + q];
    float* sum = sq + c * plane;
    window_sums(sq, c, plane, c0, c1, before, after, sum, [&](int64_t ci, const float* s) {
      float* sc = scale + (img * c + ci) * plane;
      float* yo = y + (img * c + ci) * plane;
      const float* xo = xi + ci * plane;
      for (int64_t q = 0; q < plane; ++q) sc[q] = p.k + p.coef * s[q];
      pow_neg_beta(sc, yo, plane, p.beta);
      for (int64_t q = 0; q < plane; ++q) yo[q] *= xo[q];
    });
  });
}

void lrn_backward(int64_t n, int64_t c, int64_t plane, const LrnParams& p, const float* x, const float* y,
                  const float* scale, const float* dy, float* dx) {
  const int64_t before = p.size / 2, after = (p.size - 1) / 2;
  const int64_t blocks = (c + kChannelBlock - 1) / kChannelBlock;
  const float two_coef_beta = 2.f * p.coef * p.beta;
  parallel_tasks(n * blocks, [&](int64_t task, int) {
    const int64_t img = task / blocks, c0 = (task % blocks) * kChannelBlock, c1 = std::min(c, c0 + kChannelBlock);
    const int64_t off = img * c * plane;
    float* t = scratch(static_cast<size_t>((c + 2) * plane));
    // t_i = dy_i · y_i / scale_i for the channels whose windows contain this block's channels
    const int64_t lo = std::max<int64_t>(0, c0 - after), hi = std::min<int64_t>(c, c1 + before);
    for (int64_t j = lo; j < hi; ++j)
      for (int64_t q = 0; q < plane; ++q) {
        const int64_t k = off + j * plane + q;
        t[j * plane + q] = dy[k] * y[k] / scale[k];
      }
    float* sum = t + c * plane;
    float* pw = t + (c + 1) * plane;
    // channels i whose window holds m: m − after ≤ i ≤ m + before
    window_sums(t, c, plane, c0, c1, after, before, sum, [&](int64_t m, const float* s) {
      const int64_t k = off + m * plane;
      pow_neg_beta(scale + k, pw, plane, p.beta);
      for (int64_t q = 0; q < plane; ++q) dx[k + q] = dy[k + q] * pw[q] - two_coef_beta * x[k + q] * s[q];
    });
  });
}

}  // namespace convnet
