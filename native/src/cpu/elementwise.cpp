// Memory-bound kernels: neurons, dropout, softmax cross-entropy, SGD, add/mul/scale/axpy, reductions.
// Loops are written so the compiler vectorises them; work is split in contiguous chunks per thread.
#include <algorithm>
#include <cmath>
#include <vector>

#include "convnet/kernels.h"
#include "convnet/philox.h"
#include "convnet/threadpool.h"

namespace convnet {
namespace {

// Below this many elements one thread is faster than waking the pool.
constexpr int64_t kParallelGrain = 1 << 15;

template <class F>
void chunks(int64_t len, F f) {
  if (len < kParallelGrain) { f(0, len); return; }
  parallel_for(len, [&](int64_t b, int64_t e, int) { f(b, e); });
}

}  // namespace

void activation_forward(Activation fn, int64_t len, const float* x, float* y) {
  chunks(len, [&](int64_t b, int64_t e) {
    if (fn == Activation::Relu) {
      for (int64_t i = b; i < e; ++i) {
        const float v = x[i];
        y[i] = v < 0.f ? 0.f : v;
      }
    } else {
      for (int64_t i = b; i < e; ++i) y[i] = activation_value(fn, x[i]);
    }
  });
}

void activation_backward(Activation fn, int64_t len, const float* x, const float* y, const float* dy, float* dx) {
  chunks(len, [&](int64_t b, int64_t e) {
    if (fn == Activation::Relu) {
      // both loads unconditional, so the select vectorises (a conditional load of dy would not)
      for (int64_t i = b; i < e; ++i) {
        const float d = dy[i], v = x[i];
        dx[i] = v <= 0.f ? 0.f : d;
      }
    } else {
      for (int64_t i = b; i < e; ++i) dx[i] = dy[i] * activation_derivative(fn, x[i], y[i]);
    }
  });
}

// (Philox's 32x32 -> 64-bit multiplies do not vectorise profitably at the baseline ISA; at ~100 M elements/s
// the paper net's two dropout layers take ~3 ms a step at batch 32, so this stays scalar.)
void dropout_forward(int64_t len, uint64_t seed, uint32_t stream, uint64_t offset, uint32_t keep_threshold, float scale,
                     const float* x, float* y, float* mask) {
  // element i uses word offset + i (dropout_mask_at in kernels/dropout.h); one Philox block gives 4 words
  chunks(len, [&](int64_t b, int64_t e) {
    int64_t i = b;
    while (i < e) {
      const uint64_t word = offset + static_cast<uint64_t>(i);
      const uint64_t block = word >> 2;
      const Philox4 r = philox4x32(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), stream, 0,
                                   static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
      for (uint64_t lane = word & 3; lane < 4 && i < e; ++lane, ++i) {
        const float m = dropout_mask_value(r.v[lane], keep_threshold, scale);
        mask[i] = m;
        y[i] = x[i] * m;
      }
    }
  });
}

void softmax_rows(int64_t n, int64_t classes, const float* x, float* y) {
  parallel_for(n, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = x + r * classes;
      float* yr = y + r * classes;
      float mx = -INFINITY;
      for (int64_t j = 0; j < classes; ++j) mx = xr[j] > mx ? xr[j] : mx;
      double sum = 0;
      for (int64_t j = 0; j < classes; ++j) { yr[j] = std::exp(xr[j] - mx); sum += yr[j]; }
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < classes; ++j) yr[j] *= inv;
    }
  });
}

double softmax_cross_entropy(int64_t n, int64_t classes, int64_t topk, const float* logits, const int32_t* labels,
                             float* dlogits, double* hits) {
  // Per-row results, then summed in row order: deterministic regardless of threads.
  std::vector<double> loss(n);
  std::vector<int> top1(n), topK(n);
  parallel_for(n, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = logits + r * classes;
      float* dr = dlogits + r * classes;
      const int32_t label = labels[r];
      float mx = -INFINITY;
      for (int64_t j = 0; j < classes; ++j) mx = xr[j] > mx ? xr[j] : mx;
      double sum = 0;
      for (int64_t j = 0; j < classes; ++j) sum += std::exp(static_cast<double>(xr[j]) - mx);
      const double log_sum = std::log(sum);
      loss[r] = -(static_cast<double>(xr[label]) - mx - log_sum);
      const double inv_n = 1.0 / static_cast<double>(n);
      for (int64_t j = 0; j < classes; ++j)
        dr[j] = static_cast<float>((std::exp(static_cast<double>(xr[j]) - mx - log_sum) - (j == label ? 1.0 : 0.0)) * inv_n);
      int64_t larger = 0;
      const float target = xr[label];
      for (int64_t j = 0; j < classes; ++j) larger += xr[j] > target;
      top1[r] = larger == 0;
      topK[r] = larger < topk;
    }
  });
  double total = 0;
  hits[0] = hits[1] = 0;
  for (int64_t r = 0; r < n; ++r) {
    total += loss[r];
    hits[0] += top1[r];
    hits[1] += topK[r];
  }
  return n > 0 ? total / static_cast<double>(n) : 0.0;
}

namespace {
template <bool Paper, bool Momentum, bool Nesterov, bool FirstStep>
void sgd_loop(int64_t len, const SgdParams& p, float* w, float* v, const float* g) {
  chunks(len, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) sgd_element_t<Paper, Momentum, Nesterov, FirstStep>(w[i], v[i], g[i], p);
  });
}
}  // namespace

void sgd_update(int64_t len, const SgdParams& p, float* w, float* v, const float* g) {
  // the switches of sgd_element, taken once per call so that each loop is branch-free
  if (p.paper_rule) sgd_loop<true, false, false, false>(len, p, w, v, g);
  else if (p.momentum == 0.f) sgd_loop<false, false, false, false>(len, p, w, v, g);
  else if (p.nesterov && p.first_step) sgd_loop<false, true, true, true>(len, p, w, v, g);
  else if (p.nesterov) sgd_loop<false, true, true, false>(len, p, w, v, g);
  else if (p.first_step) sgd_loop<false, true, false, true>(len, p, w, v, g);
  else sgd_loop<false, true, false, false>(len, p, w, v, g);
}

void adam_update(int64_t len, const AdamParams& p, float* w, float* m, float* v, const float* g) {
  chunks(len, [&](int64_t b, int64_t e) { for (int64_t i = b; i < e; ++i) adam_element(p, w, m, v, g, i); });
}

void softmax_backward(int64_t n, int64_t classes, const float* y, const float* dy, float* dx) {
  chunks(n, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) softmax_backward_row(y + r * classes, dy + r * classes, dx + r * classes, classes);
  });
}

void add(int64_t len, const float* a, const float* b, float* y) {
  chunks(len, [&](int64_t s, int64_t e) { for (int64_t i = s; i < e; ++i) y[i] = a[i] + b[i]; });
}
void mul(int64_t len, const float* a, const float* b, float* y) {
  chunks(len, [&](int64_t s, int64_t e) { for (int64_t i = s; i < e; ++i) y[i] = a[i] * b[i]; });
}
void scale(int64_t len, float alpha, const float* x, float* y) {
  chunks(len, [&](int64_t s, int64_t e) { for (int64_t i = s; i < e; ++i) y[i] = alpha * x[i]; });
}
void axpy(int64_t len, float alpha, const float* x, float* y) {
  chunks(len, [&](int64_t s, int64_t e) { for (int64_t i = s; i < e; ++i) y[i] += alpha * x[i]; });
}

void sum_and_squares(int64_t len, const float* x, double* out2) {
  // Fixed blocks, each summed in float64 over 4 interleaved lanes (vectorises), then the blocks in order:
  // the same result for any thread count.
  constexpr int64_t kBlock = 1 << 16;
  const int64_t blocks = (len + kBlock - 1) / kBlock;
  thread_local std::vector<double> partial;
  if (partial.size() < static_cast<size_t>(2 * blocks)) partial.resize(static_cast<size_t>(2 * blocks));
  double* part = partial.data();
  auto block_sums = [&](int64_t blk) {
    const int64_t b = blk * kBlock, e = std::min(len, b + kBlock);
    double s[4] = {0, 0, 0, 0}, s2[4] = {0, 0, 0, 0};
    int64_t i = b;
    for (; i + 4 <= e; i += 4)
      for (int k = 0; k < 4; ++k) {
        const double v = x[i + k];
        s[k] += v;
        s2[k] += v * v;
      }
    for (; i < e; ++i) {
      const double v = x[i];
      s[0] += v;
      s2[0] += v * v;
    }
    part[2 * blk] = (s[0] + s[1]) + (s[2] + s[3]);
    part[2 * blk + 1] = (s2[0] + s2[1]) + (s2[2] + s2[3]);
  };
  if (blocks > 1) {
    parallel_for(blocks, [&](int64_t b, int64_t e, int) {
      for (int64_t k = b; k < e; ++k) block_sums(k);
    });
  } else if (blocks == 1) {
    block_sums(0);
  }
  double s = 0, s2 = 0;
  for (int64_t k = 0; k < blocks; ++k) {
    s += part[2 * k];
    s2 += part[2 * k + 1];
  }
  out2[0] = s;
  out2[1] = s2;
}

}  // namespace convnet
