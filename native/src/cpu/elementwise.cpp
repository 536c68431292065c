// Memory-bound kernels: neurons, dropout, softmax cross-entropy, SGD, add/mul/scale/axpy, reductions.
// Loops are written so the compiler vectorises them; work is split in contiguous chunks per thread.
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

void dropout_forward(int64_t len, uint64_t seed, uint32_t stream, uint64_t offset, uint32_t keep_threshold, float scale,
                     const float* x, float* y, float* mask) {
  chunks(len, [&](int64_t b, int64_t e) {
    int64_t i = b;
    while (i < e) {
      const uint64_t word = offset + static_cast<uint64_t>(i);
      const uint64_t block = word >> 2;
      Philox4 r = philox4x32(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), stream, 0,
                             static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
      for (uint64_t lane = word & 3; lane < 4 && i < e; ++lane, ++i) {
        const float m = (r.v[lane] >> 8) < keep_threshold ? scale : 0.f;
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

void sgd_update(int64_t len, const SgdParams& p, float* w, float* v, const float* g) {
  chunks(len, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) sgd_element(w[i], v[i], g[i], p);
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
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < len; ++i) { s += x[i]; s2 += static_cast<double>(x[i]) * x[i]; }
  out2[0] = s;
  out2[1] = s2;
}

}  // namespace convnet
