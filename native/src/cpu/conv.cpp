// Convolution by im2col + GEMM. With a batch at least as large as the thread count, each thread takes
// whole images and runs a serial GEMM on its own column buffer (no synchronisation inside an image);
// with fewer images, images run one after another and the GEMM itself uses the pool.
#include <algorithm>
#include <cstring>
#include <vector>

#include "convnet/gemm.h"
#include "convnet/kernels.h"
#include "convnet/threadpool.h"

namespace convnet {
namespace {

// Grow-only scratch per thread (pool threads are persistent, so this is allocated once per size).
float* scratch(size_t n, int slot = 0) {
  thread_local std::vector<float> buf[2];
  if (buf[slot].size() < n) buf[slot].resize(n);
  return buf[slot].data();
}

// col [cg*kh*kw, oh*ow] from channels [c0, c0+cg) of one image x [c, h, w]; zero outside the input.
void im2col(const ConvGeom& g, const float* x, int64_t c0, int64_t cg, float* col) {
  const int64_t P = g.oh * g.ow;
  for (int64_t ic = 0; ic < cg; ++ic) {
    const float* plane = x + (c0 + ic) * g.h * g.w;
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        float* row = col + ((ic * g.kh + ky) * g.kw + kx) * P;
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const int64_t iy = oy * g.sh - g.ph + ky;
          float* out = row + oy * g.ow;
          if (iy < 0 || iy >= g.h) {
            std::memset(out, 0, sizeof(float) * g.ow);
            continue;
          }
          const float* in = plane + iy * g.w;
          if (g.sw == 1) {
            // contiguous run of valid x positions
            int64_t lo = std::max<int64_t>(0, g.pw - kx), hi = std::min<int64_t>(g.ow, g.w + g.pw - kx);
            if (hi < lo) hi = lo;
            for (int64_t ox = 0; ox < lo; ++ox) out[ox] = 0.f;
            if (hi > lo) std::memcpy(out + lo, in + lo - g.pw + kx, sizeof(float) * (hi - lo));
            for (int64_t ox = hi; ox < g.ow; ++ox) out[ox] = 0.f;
          } else {
            for (int64_t ox = 0; ox < g.ow; ++ox) {
              const int64_t ix = ox * g.sw - g.pw + kx;
              out[ox] = (ix >= 0 && ix < g.w) ? in[ix] : 0.f;
            }
          }
        }
      }
  }
}

// Adds col [cg*kh*kw, oh*ow] back into channels [c0, c0+cg) of dx [c, h, w] (which the caller zeroed).
void col2im(const ConvGeom& g, const float* col, int64_t c0, int64_t cg, float* dx) {
  const int64_t P = g.oh * g.ow;
  for (int64_t ic = 0; ic < cg; ++ic) {
    float* plane = dx + (c0 + ic) * g.h * g.w;
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const float* row = col + ((ic * g.kh + ky) * g.kw + kx) * P;
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const int64_t iy = oy * g.sh - g.ph + ky;
          if (iy < 0 || iy >= g.h) continue;
          float* out = plane + iy * g.w;
          const float* in = row + oy * g.ow;
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            const int64_t ix = ox * g.sw - g.pw + kx;
            if (ix >= 0 && ix < g.w) out[ix] += in[ox];
          }
        }
      }
  }
}

bool is_pointwise(const ConvGeom& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
}

// Runs body(image, serial) over the batch: whole images per thread when the batch can feed every
// thread, else one image at a time with `serial == false` (use the parallel GEMM).
template <class F>
void over_images(int64_t n, F body) {
  if (n >= num_threads() && num_threads() > 1) {
    parallel_for(n, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) body(i, true);
    });
  } else {
    for (int64_t i = 0; i < n; ++i) body(i, false);
  }
}

void gemm(bool serial, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (serial) sgemm_serial(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace

void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y) {
  const int64_t cg = g.c / g.groups, og = g.o / g.groups, K = cg * g.kh * g.kw, P = g.oh * g.ow;
  over_images(g.n, [&](int64_t i, bool serial) {
    const float* xi = x + i * g.c * g.h * g.w;
    float* yi = y + i * g.o * P;
    if (b) {
      for (int64_t oc = 0; oc < g.o; ++oc) std::fill(yi + oc * P, yi + (oc + 1) * P, b[oc]);
    }
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      const float* col;
      if (is_pointwise(g)) {
        col = xi + gi * cg * P;
      } else {
        float* buf = scratch(static_cast<size_t>(K * P));
        im2col(g, xi, gi * cg, cg, buf);
        col = buf;
      }
      gemm(serial, false, false, og, P, K, 1.f, w + gi * og * K, K, col, P, b ? 1.f : 0.f, yi + gi * og * P, P);
    }
  });
}

void conv2d_backward_input(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  const int64_t cg = g.c / g.groups, og = g.o / g.groups, K = cg * g.kh * g.kw, P = g.oh * g.ow;
  over_images(g.n, [&](int64_t i, bool serial) {
    const float* dyi = dy + i * g.o * P;
    float* dxi = dx + i * g.c * g.h * g.w;
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      if (is_pointwise(g)) {
        gemm(serial, true, false, K, P, og, 1.f, w + gi * og * K, K, dyi + gi * og * P, P, 0.f, dxi + gi * cg * P, P);
        continue;
      }
      float* col = scratch(static_cast<size_t>(K * P));
      // dcol [K, P] = W_gᵀ [K, og] · dy_g [og, P]
      gemm(serial, true, false, K, P, og, 1.f, w + gi * og * K, K, dyi + gi * og * P, P, 0.f, col, P);
      std::memset(dxi + gi * cg * g.h * g.w, 0, sizeof(float) * cg * g.h * g.w);
      col2im(g, col, gi * cg, cg, dxi);
    }
  });
}

void conv2d_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw) {
  const int64_t cg = g.c / g.groups, og = g.o / g.groups, K = cg * g.kh * g.kw, P = g.oh * g.ow;
  const int64_t wsize = g.o * K;
  const int T = num_threads();
  if (g.n >= T && T > 1) {
    // Each thread accumulates its contiguous range of images into its own partial dw; the partials are
    // summed in thread order, so the result depends only on the thread count.
    std::vector<float> partial(static_cast<size_t>(T) * wsize);
    std::vector<char> used(T, 0);
    parallel_for(g.n, [&](int64_t b, int64_t e, int t) {
      float* acc = partial.data() + static_cast<size_t>(t) * wsize;
      used[t] = 1;
      for (int64_t i = b; i < e; ++i) {
        const float* xi = x + i * g.c * g.h * g.w;
        const float* dyi = dy + i * g.o * P;
        for (int64_t gi = 0; gi < g.groups; ++gi) {
          const float* col;
          if (is_pointwise(g)) col = xi + gi * cg * P;
          else {
            float* buf = scratch(static_cast<size_t>(K * P));
            im2col(g, xi, gi * cg, cg, buf);
            col = buf;
          }
          // dw_g [og, K] (+)= dy_g [og, P] · colᵀ [P, K]
          sgemm_serial(false, true, og, K, P, 1.f, dyi + gi * og * P, P, col, P, i == b ? 0.f : 1.f, acc + gi * og * K, K);
        }
      }
    });
    bool first = true;
    for (int t = 0; t < T; ++t) {
      if (!used[t]) continue;
      const float* src = partial.data() + static_cast<size_t>(t) * wsize;
      if (first) std::memcpy(dw, src, sizeof(float) * wsize);
      else for (int64_t j = 0; j < wsize; ++j) dw[j] += src[j];
      first = false;
    }
    return;
  }
  for (int64_t i = 0; i < g.n; ++i) {
    const float* xi = x + i * g.c * g.h * g.w;
    const float* dyi = dy + i * g.o * P;
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      const float* col;
      if (is_pointwise(g)) col = xi + gi * cg * P;
      else {
        float* buf = scratch(static_cast<size_t>(K * P));
        im2col(g, xi, gi * cg, cg, buf);
        col = buf;
      }
      sgemm(false, true, og, K, P, 1.f, dyi + gi * og * P, P, col, P, i == 0 ? 0.f : 1.f, dw + gi * og * K, K);
    }
  }
  if (g.n == 0) std::memset(dw, 0, sizeof(float) * wsize);
}

void bias_grad(int64_t n, int64_t c, int64_t inner, const float* dy, float* db) {
  parallel_for(c, [&](int64_t b, int64_t e, int) {
    for (int64_t ci = b; ci < e; ++ci) {
      double acc = 0;
      for (int64_t ni = 0; ni < n; ++ni) {
        const float* p = dy + (ni * c + ci) * inner;
        float s = 0.f;
        for (int64_t i = 0; i < inner; ++i) s += p[i];
        acc += s;
      }
      db[ci] = static_cast<float>(acc);
    }
  });
}

void bias_add(int64_t n, int64_t c, int64_t inner, const float* x, const float* b, float* y) {
  parallel_for(n * c, [&](int64_t s, int64_t e, int) {
    for (int64_t r = s; r < e; ++r) {
      const float bv = b[r % c];
      const float* xi = x + r * inner;
      float* yi = y + r * inner;
      for (int64_t i = 0; i < inner; ++i) yi[i] = xi[i] + bv;
    }
  });
}

}  // namespace convnet
