// The host emulator: every launch of launch.h run on the CPU by plain loops over the same thread bodies the
// CUDA kernels call (kernels/*.h, native/include/convnet/kernels/*.h). Cooperative kernels (SGEMM tiles,
// block reductions) run phase by phase over all threads of a block, with the barrier between phases, so
// their index math, tiling, bounds handling and summation order are exercised exactly as on the device.
// Single-threaded and unvectorised: it exists to test, not to be fast. Built into the `cuda-host` addon.
#include <cstring>
#include <stdexcept>
#include <vector>

#include "../launch.h"
#include "../kernels/reduce.h"
#include "convnet/kernels/loss.h"
#include "convnet/kernels/pool.h"

namespace convnet::cuda {

void sgemm(Stream, const SgemmArgs& args) {
  SgemmArgs p = args;
  if (p.M <= 0 || p.N <= 0 || p.batch <= 0) return;
  sgemm_prepare(p);
  const int64_t gy = (p.M + kSgemmBM - 1) / kSgemmBM, gx = (p.N + kSgemmBN - 1) / kSgemmBN;
  const int64_t gz = p.reduce ? (p.splits > 1 ? p.splits : 1) : p.batch;
  if (gy > 65535 || gz > 65535) throw std::runtime_error("cuda: sgemm: M or the batch is too large for one launch");
  SgemmShared sh;
  std::vector<SgemmRegs> regs(kSgemmThreads);
  std::vector<float> acc(static_cast<size_t>(kSgemmThreads) * kSgemmTM * kSgemmTN);
  auto acc_of = [&](int tid) { return reinterpret_cast<float(*)[kSgemmTN]>(&acc[static_cast<size_t>(tid) * kSgemmTM * kSgemmTN]); };
  for (int64_t z = 0; z < gz; ++z)
    for (int64_t by = 0; by < gy; ++by)
      for (int64_t bx = 0; bx < gx; ++bx) {
        const int64_t m0 = by * kSgemmBM, n0 = bx * kSgemmBN;
        std::fill(acc.begin(), acc.end(), 0.f);
        // A thread whose first row or first column (the smallest of its tile) is outside C stores nothing
        // (sgemm_store skips every element of its tile), so its multiply-adds are not run here: the results
        // are the same bits, and small-M products (a batch of 1 through the FC layers) stop costing whole tiles.
        auto computes = [&](int t) { return m0 + sgemm_row(t, 0) < p.M && n0 + sgemm_col(t, 0) < p.N; };
        // the kernel's schedule: prologue, then per tile fetch next / compute / stash next / barrier
        const SgemmWalk w = sgemm_walk(p, z);
        if (w.tiles > 0) {
          const float *A, *B;
          int64_t k0;
          sgemm_tile(p, w, 0, A, B, k0);
          for (int t = 0; t < kSgemmThreads; ++t) sgemm_fetch(p, t, m0, n0, k0, A, B, regs[t]);
          for (int t = 0; t < kSgemmThreads; ++t) sgemm_stash(p, sh, 0, t, regs[t]);
          for (int64_t tile = 0; tile < w.tiles; ++tile) {
            const int buf = static_cast<int>(tile & 1);
            const bool next = tile + 1 < w.tiles;
            if (next) {
              sgemm_tile(p, w, tile + 1, A, B, k0);
              for (int t = 0; t < kSgemmThreads; ++t) sgemm_fetch(p, t, m0, n0, k0, A, B, regs[t]);
            }
            for (int t = 0; t < kSgemmThreads; ++t)
              if (computes(t)) sgemm_compute(sh, buf, t, acc_of(t));
            if (next)
              for (int t = 0; t < kSgemmThreads; ++t) sgemm_stash(p, sh, buf ^ 1, t, regs[t]);
          }
        }
        float* C = sgemm_c_at(p, z);
        for (int t = 0; t < kSgemmThreads; ++t) sgemm_store(p, sgemm_beta(p), t, m0, n0, C, acc_of(t));
      }
}

void im2col(Stream, const ConvGeom& g, int64_t images, const float* x, float* col) {
  const int64_t count = images * g.c * g.kh * g.kw * g.oh * g.ow;
  for (int64_t i = 0; i < count; ++i) im2col_at(g, x, col, i);
}

void col2im(Stream, const ConvGeom& g, int64_t images, const float* col, float* dx) {
  const int64_t count = images * g.c * g.h * g.w;
  for (int64_t i = 0; i < count; ++i) col2im_at(g, col, dx, i);
}

void bias_add(Stream, int64_t n, int64_t c, int64_t inner, const float* x, const float* b, float* y) {
  const int64_t count = n * c * inner;
  for (int64_t i = 0; i < count; ++i) y[i] = x[i] + b[(i / inner) % c];
}

void sum_partials(Stream, int64_t len, int64_t splits, const float* p, float* dst, bool accumulate) {
  for (int64_t i = 0; i < len; ++i) {  // the kernel's body per element
    float t = 0.f;
    for (int64_t s = 0; s < splits; ++s) t += p[s * len + i];
    dst[i] = accumulate ? t + dst[i] : t;
  }
}

void bias_grad(Stream, int64_t n, int64_t c, int64_t inner, const float* dy, float* db) {
  float sh[kReduceThreads];
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int t = 0; t < kReduceThreads; ++t) sh[t] = bias_grad_partial(n, c, inner, dy, ch, t);
    for (int s = kReduceThreads / 2; s > 0; s >>= 1)
      for (int t = 0; t < kReduceThreads; ++t) tree_step(sh, t, s);
    db[ch] = sh[0];
  }
}

void pool(Stream, int kind, const PoolGeom& g, bool cip, const float* a, const float* b, float* out) {
  const bool backward = kind == 1 || kind == 3 || kind == 5;
  const int64_t rows = backward ? g.h : g.oh, cols = backward ? g.w : g.ow;
  const int64_t count = g.n * g.c * rows * cols;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t cx = i % cols, ry = (i / cols) % rows, p = i / (cols * rows);
    switch (kind) {
      case 0: out[i] = max_pool_output(g, a + p * g.h * g.w, ry, cx); break;
      case 1: out[i] = max_pool_input_grad(g, a + p * g.h * g.w, b + p * g.oh * g.ow, ry, cx); break;
      case 2: out[i] = avg_pool_output(g, cip, a + p * g.h * g.w, ry, cx); break;
      case 3: out[i] = avg_pool_input_grad(g, cip, a + p * g.oh * g.ow, ry, cx); break;
      case 4: out[i] = adaptive_avg_pool_output(g, a + p * g.h * g.w, ry, cx); break;
      default: out[i] = adaptive_avg_pool_input_grad(g, a + p * g.oh * g.ow, ry, cx); break;
    }
  }
}

void lrn_forward(Stream, int64_t n, int64_t c, int64_t plane, const LrnParams& p, const float* x, float* y,
                 float* scale) {
  const int64_t count = n * c * plane;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t q = i % plane, ci = (i / plane) % c, base = (i / (plane * c)) * c * plane;
    y[i] = lrn_forward_element(p, x + base, c, plane, ci, q, &scale[i]);
  }
}

void lrn_backward(Stream, int64_t n, int64_t c, int64_t plane, const LrnParams& p, const float* x, const float* y,
                  const float* scale, const float* dy, float* dx) {
  const int64_t count = n * c * plane;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t q = i % plane, m = (i / plane) % c, base = (i / (plane * c)) * c * plane;
    dx[i] = lrn_backward_element(p, x + base, y + base, scale + base, dy + base, c, plane, m, q);
  }
}

void activation_forward(Stream, Activation fn, int64_t len, const float* x, float* y) {
  for (int64_t i = 0; i < len; ++i) y[i] = activation_value(fn, x[i]);
}

void activation_backward(Stream, Activation fn, int64_t len, const float* x, const float* y, const float* dy,
                         float* dx) {
  for (int64_t i = 0; i < len; ++i) dx[i] = dy[i] * activation_derivative(fn, x[i], y[i]);
}

void dropout_forward(Stream, int64_t len, uint64_t seed, uint32_t stream, uint64_t offset, uint32_t keep_threshold,
                     float scale, const float* x, float* y, float* mask) {
  const int64_t threads = dropout_threads(len, offset);
  for (int64_t t = 0; t < threads; ++t) dropout_block(len, seed, stream, offset, keep_threshold, scale, x, y, mask, t);
}

void binary(Stream, BinaryOp op, int64_t len, const float* a, const float* b, float* y) {
  for (int64_t i = 0; i < len; ++i) y[i] = op == BinaryOp::Add ? a[i] + b[i] : a[i] * b[i];
}

void scale(Stream, int64_t len, float alpha, const float* x, float* y) {
  for (int64_t i = 0; i < len; ++i) y[i] = alpha * x[i];
}

void axpy(Stream, int64_t len, float alpha, const float* x, float* y) {
  for (int64_t i = 0; i < len; ++i) y[i] += alpha * x[i];
}

void sgd_update(Stream, int64_t len, const SgdParams& p, float* w, float* v, const float* g) {
  const bool uses_v = p.paper_rule || p.momentum != 0.f;
  for (int64_t i = 0; i < len; ++i) {
    float wi = w[i], vi = uses_v ? v[i] : 0.f;
    sgd_element(wi, vi, g[i], p);
    w[i] = wi;
    if (uses_v) v[i] = vi;
  }
}

void adam_update(Stream, int64_t len, const AdamParams& p, float* w, float* m, float* v, const float* g) {
  for (int64_t i = 0; i < len; ++i) adam_element(p, w, m, v, g, i);
}

void softmax_backward(Stream, int64_t n, int64_t classes, const float* y, const float* dy, float* dx) {
  for (int64_t r = 0; r < n; ++r) softmax_backward_row(y + r * classes, dy + r * classes, dx + r * classes, classes);
}

void softmax(Stream, int64_t n, int64_t classes, const float* x, float* y) {
  for (int64_t r = 0; r < n; ++r) softmax_row(x + r * classes, classes, y + r * classes);
}

size_t softmax_xent_workspace(int64_t n) { return static_cast<size_t>(n) * (sizeof(float) + sizeof(int32_t)); }

void softmax_xent(Stream, int64_t n, int64_t classes, int64_t topk, const float* logits, const int32_t* labels,
                  float* dlogits, void* ws, double* out) {
  float* row_loss = static_cast<float*>(ws);
  int32_t* row_larger = reinterpret_cast<int32_t*>(row_loss + n);
  for (int64_t r = 0; r < n; ++r) {
    const XentRow x = softmax_xent_row(logits + r * classes, classes, labels[r], 1.f / static_cast<float>(n),
                                       dlogits + r * classes);
    row_loss[r] = x.loss;
    row_larger[r] = x.larger;
  }
  xent_totals(n, topk, row_loss, row_larger, out);
}

size_t sum_squares_workspace() { return 2 * kReduceBlocks * sizeof(double); }

void sum_and_squares(Stream, int64_t len, const float* x, void* ws, double* out) {
  double* partial = static_cast<double*>(ws);
  double sh_s[kReduceThreads], sh_q[kReduceThreads];
  for (int blk = 0; blk < kReduceBlocks; ++blk) {
    for (int t = 0; t < kReduceThreads; ++t)
      sum_squares_partial(len, x, static_cast<int64_t>(blk) * kReduceThreads + t,
                          static_cast<int64_t>(kReduceBlocks) * kReduceThreads, &sh_s[t], &sh_q[t]);
    for (int s = kReduceThreads / 2; s > 0; s >>= 1)
      for (int t = 0; t < kReduceThreads; ++t) {
        tree_step(sh_s, t, s);
        tree_step(sh_q, t, s);
      }
    partial[2 * blk] = sh_s[0];
    partial[2 * blk + 1] = sh_q[0];
  }
  double s = 0, q = 0;
  for (int b = 0; b < kReduceBlocks; ++b) {
    s += partial[2 * b];
    q += partial[2 * b + 1];
  }
  out[0] = s;
  out[1] = q;
}

void augment(Stream, const AugmentGeom& g, const AugmentSample& smp, const AugmentNorm& nm, const uint8_t* images,
             float* out) {
  const int64_t count = g.n * g.c * g.oh * g.ow;
  for (int64_t i = 0; i < count; ++i) out[i] = augment_output_element(g, smp, nm, images, i);
}

}  // namespace convnet::cuda
