// Convolution entry points. Each first asks the other algorithms' rules (Winograd F(4x4,3x3): conv_winograd.cpp;
// direct convolution on channel-blocked layouts: conv_direct.cpp; first layers with few input channels, forward and
// weight gradient: conv_first.cpp; CONVNET_CONV_TRACE=1 names the choice per shape),
// and otherwise runs im2col + GEMM (the column layout and index math: include/convnet/kernels/conv.h).
//
// Parallel schedule, T = pool threads:
//  - forward and input gradient: while at least T images remain, each image is a task that one thread runs
//    start to finish with a serial GEMM and its own column buffer (no synchronisation inside an image).
//    Tasks are handed out dynamically, so a thread slowed by other load on the machine does not hold the
//    others up. The last n mod T images (every image at batch < T) run one after another on all threads:
//    im2col split by column rows, col2im by channels, and the GEMM itself parallel.
//  - weight gradient: the first n − n mod T images are split into T fixed, contiguous ranges; range t sums
//    into its own partial dw (range 0 straight into dw) and the partials are added in range order; the other
//    images are then added one after another with the all-threads path. The split depends only on n and T,
//    never on which thread runs what, so results depend on the thread count only.
// Scratch (columns, partial sums) comes from the calling thread's grow-only workspace (workspace.h).
#include <algorithm>
#include <cstring>

#include "convnet/gemm.h"
#include "convnet/kernels.h"
#include "convnet/threadpool.h"
#include "conv_direct.h"
#include "conv_first.h"
#include "conv_winograd.h"
#include "workspace.h"

namespace convnet {
namespace {

// Below this many column entries, im2col / col2im run on one thread (a parallel region costs ~10-20 µs).
constexpr int64_t kParallelColumns = 1 << 15;

bool is_pointwise(const ConvGeom& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
}

// Taps kx handled together: each input row is then read once into L1 for up to this many column rows
// (with conv1's stride 4 and 227-wide planes, reading it once per column row was cache-bound).
constexpr int64_t kTapChunk = 16;

// Rows [r0, r1) of the column matrix of the channel group starting at c0, from one image x [c, h, w],
// restricted to output rows [oy0, oy1) (columns oy0·ow .. oy1·ow): col is [r1 − r0, (oy1 − oy0)·ow].
// Bounds are hoisted (conv_valid_outputs): no test per element.
void im2col_rows(const ConvGeom& g, const float* x, int64_t c0, int64_t r0, int64_t r1, int64_t oy0, int64_t oy1,
                 float* col) {
  const int64_t ld = (oy1 - oy0) * g.ow, taps = g.kh * g.kw;
  ValidRange xs[kTapChunk];
  for (int64_t r = r0; r < r1;) {
    // rows r .. r + count − 1 share (ic, ky) and have consecutive kx
    const int64_t ic = r / taps, ky = (r / g.kw) % g.kh, kx0 = r % g.kw;
    const int64_t count = std::min({g.kw - kx0, r1 - r, kTapChunk});
    const float* plane = x + (c0 + ic) * g.h * g.w;
    float* rows = col + (r - r0) * ld;
    ValidRange ys = conv_valid_outputs(g.h, g.oh, g.sh, g.ph, ky);
    ys.lo = std::min(std::max(ys.lo, oy0), oy1);
    ys.hi = std::min(std::max(ys.hi, ys.lo), oy1);
    for (int64_t t = 0; t < count; ++t) {
      xs[t] = conv_valid_outputs(g.w, g.ow, g.sw, g.pw, kx0 + t);
      float* row = rows + t * ld;
      std::memset(row, 0, sizeof(float) * static_cast<size_t>((ys.lo - oy0) * g.ow));
      std::memset(row + (ys.hi - oy0) * g.ow, 0, sizeof(float) * static_cast<size_t>((oy1 - ys.hi) * g.ow));
    }
    for (int64_t oy = ys.lo; oy < ys.hi; ++oy) {
      const float* in = plane + conv_input_y(g, oy, ky) * g.w;
      for (int64_t t = 0; t < count; ++t) {
        const ValidRange xr = xs[t];
        const int64_t shift = kx0 + t - g.pw;  // ix = ox·sw + shift
        float* out = rows + t * ld + (oy - oy0) * g.ow;
        for (int64_t ox = 0; ox < xr.lo; ++ox) out[ox] = 0.f;
        if (g.sw == 1) {
          const float* src = in + (xr.lo + shift);
          float* dst = out + xr.lo;
          const int64_t len = xr.hi - xr.lo;
          for (int64_t i = 0; i < len; ++i) dst[i] = src[i];
        } else {
          for (int64_t ox = xr.lo; ox < xr.hi; ++ox) out[ox] = in[ox * g.sw + shift];
        }
        for (int64_t ox = xr.hi; ox < g.ow; ++ox) out[ox] = 0.f;
      }
    }
    r += count;
  }
}

// dx planes of channels [c0 + ic0, c0 + ic1) of one image from the group's dcol [K, P]. Each pixel gets its
// entries added in increasing row order into a zeroed plane: exactly the sums of col2im_element (conv.h).
void col2im_channels(const ConvGeom& g, const float* col, int64_t c0, int64_t ic0, int64_t ic1, float* dx) {
  const int64_t P = g.oh * g.ow;
  ValidRange xs[kTapChunk];
  for (int64_t ic = ic0; ic < ic1; ++ic) {
    float* plane = dx + (c0 + ic) * g.h * g.w;
    std::memset(plane, 0, sizeof(float) * static_cast<size_t>(g.h * g.w));
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      const ValidRange ys = conv_valid_outputs(g.h, g.oh, g.sh, g.ph, ky);
      for (int64_t kx0 = 0; kx0 < g.kw; kx0 += kTapChunk) {
        const int64_t count = std::min(kTapChunk, g.kw - kx0);
        for (int64_t t = 0; t < count; ++t) xs[t] = conv_valid_outputs(g.w, g.ow, g.sw, g.pw, kx0 + t);
        const float* rows = col + ((ic * g.kh + ky) * g.kw + kx0) * P;
        for (int64_t oy = ys.lo; oy < ys.hi; ++oy) {
          float* out = plane + conv_input_y(g, oy, ky) * g.w;
          // for one pixel of this row, the taps add in increasing kx: the row order
          for (int64_t t = 0; t < count; ++t) {
            const ValidRange xr = xs[t];
            const int64_t shift = kx0 + t - g.pw;
            const float* in = rows + t * P + oy * g.ow;
            if (g.sw == 1) {
              float* dst = out + (xr.lo + shift);
              const float* src = in + xr.lo;
              const int64_t len = xr.hi - xr.lo;
              for (int64_t i = 0; i < len; ++i) dst[i] += src[i];
            } else {
              for (int64_t ox = xr.lo; ox < xr.hi; ++ox) out[ox * g.sw + shift] += in[ox];
            }
          }
        }
      }
    }
  }
}

// All rows of a group's column matrix, split over the pool when it is large enough (outside any
// parallel region only).
void im2col_all_threads(const ConvGeom& g, const float* x, int64_t c0, int64_t K, float* col) {
  const int64_t P = g.oh * g.ow;
  if (K * P < kParallelColumns || num_threads() == 1) {
    im2col_rows(g, x, c0, 0, K, 0, g.oh, col);
    return;
  }
  parallel_for(K, [&](int64_t b, int64_t e, int) { im2col_rows(g, x, c0, b, e, 0, g.oh, col + b * P); });
}

void col2im_all_threads(const ConvGeom& g, const float* col, int64_t c0, int64_t cg, int64_t K, float* dx) {
  const int64_t P = g.oh * g.ow;
  if (K * P < kParallelColumns || num_threads() == 1) {
    col2im_channels(g, col, c0, 0, cg, dx);
    return;
  }
  parallel_for(cg, [&](int64_t b, int64_t e, int) { col2im_channels(g, col, c0, b, e, dx); });
}

// A column block of at most this many bytes stays in L2 between im2col writing it and the GEMM packing it.
constexpr int64_t kColumnBlockBytes = 384 << 10;
// ... but blocks narrower than this many columns would make the GEMM repack the weights too often.
constexpr int64_t kMinBlockColumns = 128;

struct Shape {
  int64_t cg, og, K, P, in_size, out_size;
  int64_t block_rows;  // output rows per column block of the one-thread-per-image path
  explicit Shape(const ConvGeom& g)
      : cg(g.c / g.groups), og(g.o / g.groups), K(cg * g.kh * g.kw), P(g.oh * g.ow), in_size(g.c * g.h * g.w),
        out_size(g.o * g.oh * g.ow), block_rows(g.oh) {
    // Blocks only where they fit that rule: shapes with few column rows and many columns (conv1: K = 363,
    // P = 3025, a 4.4 MB column matrix, is done in blocks of 4 output rows).
    const int64_t fit = kColumnBlockBytes / (static_cast<int64_t>(sizeof(float)) * std::max<int64_t>(K, 1));
    if (fit >= kMinBlockColumns && fit < P && g.ow > 0) block_rows = std::max<int64_t>(1, fit / g.ow);
  }
  int64_t block_floats(const ConvGeom& g) const { return K * block_rows * g.ow; }
};

// Images [0, n_split) one per task; n_split is a multiple of T (0 when T == 1 or n < T).
int64_t images_per_thread_split(int64_t n, int T) { return T > 1 ? n - n % T : 0; }

}  // namespace

void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y) {
  const Shape s(g);
  if (g.n == 0 || s.out_size == 0) return;
  if (use_winograd(g, false)) {
    conv_trace("forward", g, "winograd F(4x4,3x3)");
    winograd_forward(g, x, w, b, y);
    return;
  }
  if (use_direct(g, false)) {
    conv_trace("forward", g, direct_name());
    direct_forward(g, x, w, b, y);
    return;
  }
  if (use_first(g)) {
    conv_trace("forward", g, first_name());
    first_forward(g, x, w, b, y);
    return;
  }
  conv_trace("forward", g, "im2col+gemm");
  const bool pointwise = is_pointwise(g);
  const int T = num_threads();
  const int64_t n_split = images_per_thread_split(g.n, T);
  // per-image path: T blocks of columns; all-threads path: the whole column matrix
  const size_t stride = pointwise ? 0 : slice_stride(s.block_floats(g));
  const size_t whole = pointwise || n_split == g.n ? 0 : static_cast<size_t>(s.K * s.P);
  float* cols = workspace(std::max(stride * static_cast<size_t>(n_split ? T : 0), whole));

  auto bias = [&](float* yi) {
    if (b)
      for (int64_t oc = 0; oc < g.o; ++oc) std::fill(yi + oc * s.P, yi + (oc + 1) * s.P, b[oc]);
  };
  // y_g [og, P] (+)= w_g [og, K] · col [K, P], a block of output rows at a time
  parallel_tasks(n_split, [&](int64_t i, int tid) {
    const float* xi = x + i * s.in_size;
    float* yi = y + i * s.out_size;
    bias(yi);
    float* buf = cols + static_cast<size_t>(tid) * stride;
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      const float* wg = w + gi * s.og * s.K;
      float* yg = yi + gi * s.og * s.P;
      if (pointwise) {
        sgemm_serial(false, false, s.og, s.P, s.K, 1.f, wg, s.K, xi + gi * s.cg * s.P, s.P, b ? 1.f : 0.f, yg, s.P);
        continue;
      }
      for (int64_t oy0 = 0; oy0 < g.oh; oy0 += s.block_rows) {
        const int64_t oy1 = std::min(g.oh, oy0 + s.block_rows), cols_n = (oy1 - oy0) * g.ow;
        im2col_rows(g, xi, gi * s.cg, 0, s.K, oy0, oy1, buf);
        sgemm_serial(false, false, s.og, cols_n, s.K, 1.f, wg, s.K, buf, cols_n, b ? 1.f : 0.f, yg + oy0 * g.ow, s.P);
      }
    }
  });
  for (int64_t i = n_split; i < g.n; ++i) {
    const float* xi = x + i * s.in_size;
    float* yi = y + i * s.out_size;
    bias(yi);
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      const float* col = xi + gi * s.cg * s.P;
      if (!pointwise) {
        im2col_all_threads(g, xi, gi * s.cg, s.K, cols);
        col = cols;
      }
      sgemm(false, false, s.og, s.P, s.K, 1.f, w + gi * s.og * s.K, s.K, col, s.P, b ? 1.f : 0.f,
            yi + gi * s.og * s.P, s.P);
    }
  }
}

void conv2d_backward_input(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  const Shape s(g);
  if (g.n == 0 || s.in_size == 0) return;
  if (s.out_size == 0) {  // no output, no gradient
    std::memset(dx, 0, sizeof(float) * static_cast<size_t>(g.n * s.in_size));
    return;
  }
  if (use_winograd(g, true)) {
    conv_trace("bwd-data", g, "winograd F(4x4,3x3) (flipped filters)");
    winograd_backward_input(g, dy, w, dx);
    return;
  }
  if (use_direct(g, true)) {
    conv_trace("bwd-data", g, direct_name());
    direct_backward_input(g, dy, w, dx);
    return;
  }
  conv_trace("bwd-data", g, "gemm+col2im");
  const bool pointwise = is_pointwise(g);
  const int T = num_threads();
  const int64_t n_split = images_per_thread_split(g.n, T);
  const size_t stride = pointwise ? 0 : slice_stride(s.K * s.P);
  float* cols = workspace(stride * static_cast<size_t>(n_split ? T : 1));

  // (Not blocked by output rows like the other two: blocks would scatter into overlapping dx rows, and the
  // paper net skips conv1's input gradient, the one shape where blocks pay.)
  // dcol [K, P] = w_gᵀ [K, og] · dy_g [og, P]; pointwise: dcol is dx_g itself.
  parallel_tasks(n_split, [&](int64_t i, int tid) {
    const float* dyi = dy + i * s.out_size;
    float* dxi = dx + i * s.in_size;
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      const float* wg = w + gi * s.og * s.K;
      if (pointwise) {
        sgemm_serial(true, false, s.K, s.P, s.og, 1.f, wg, s.K, dyi + gi * s.og * s.P, s.P, 0.f,
                     dxi + gi * s.cg * s.P, s.P);
        continue;
      }
      float* col = cols + static_cast<size_t>(tid) * stride;
      sgemm_serial(true, false, s.K, s.P, s.og, 1.f, wg, s.K, dyi + gi * s.og * s.P, s.P, 0.f, col, s.P);
      col2im_channels(g, col, gi * s.cg, 0, s.cg, dxi);
    }
  });
  for (int64_t i = n_split; i < g.n; ++i) {
    const float* dyi = dy + i * s.out_size;
    float* dxi = dx + i * s.in_size;
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      const float* wg = w + gi * s.og * s.K;
      if (pointwise) {
        sgemm(true, false, s.K, s.P, s.og, 1.f, wg, s.K, dyi + gi * s.og * s.P, s.P, 0.f, dxi + gi * s.cg * s.P, s.P);
        continue;
      }
      sgemm(true, false, s.K, s.P, s.og, 1.f, wg, s.K, dyi + gi * s.og * s.P, s.P, 0.f, cols, s.P);
      col2im_all_threads(g, cols, gi * s.cg, s.cg, s.K, dxi);
    }
  }
}

void conv2d_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw) {
  const Shape s(g);
  const int64_t wsize = g.o * s.K;
  if (wsize == 0) return;
  if (g.n == 0 || s.P == 0) {  // no output, no gradient
    std::memset(dw, 0, sizeof(float) * static_cast<size_t>(wsize));
    return;
  }
  if (use_winograd_weight(g)) {
    conv_trace("bwd-weights", g, "winograd F(4x4,3x3) (transformed-domain sums)");
    winograd_backward_weight(g, x, dy, dw);
    return;
  }
  if (use_direct_weight(g)) {
    conv_trace("bwd-weights", g, direct_name());
    direct_backward_weight(g, x, dy, dw);
    return;
  }
  if (use_first(g)) {
    conv_trace("bwd-weights", g, first_name());
    first_backward_weight(g, x, dy, dw);
    return;
  }
  conv_trace("bwd-weights", g, "im2col+gemm");
  const bool pointwise = is_pointwise(g);
  const int T = num_threads();
  const int64_t n_split = images_per_thread_split(g.n, T);
  const int64_t per_range = n_split / std::max(T, 1);
  const int partials = n_split ? T - 1 : 0;
  const size_t col_stride = pointwise ? 0 : slice_stride(s.block_floats(g));
  const size_t part_stride = slice_stride(wsize);
  const size_t whole = pointwise || n_split == g.n ? 0 : static_cast<size_t>(s.K * s.P);
  const size_t col_floats = std::max(col_stride * static_cast<size_t>(n_split ? T : 0), whole);
  float* cols = workspace(col_floats + part_stride * partials);
  float* part = cols + col_floats;

  // dw_g [og, K] (+)= dy_g [og, P] · colᵀ [P, K], a block of output rows (columns of col) at a time
  parallel_tasks(n_split ? T : 0, [&](int64_t t, int tid) {
    float* acc = t == 0 ? dw : part + static_cast<size_t>(t - 1) * part_stride;
    float* buf = cols + static_cast<size_t>(tid) * col_stride;
    for (int64_t i = t * per_range; i < (t + 1) * per_range; ++i) {
      const float* xi = x + i * s.in_size;
      const float* dyi = dy + i * s.out_size;
      for (int64_t gi = 0; gi < g.groups; ++gi) {
        const float* dyg = dyi + gi * s.og * s.P;
        float* accg = acc + gi * s.og * s.K;
        if (pointwise) {
          sgemm_serial(false, true, s.og, s.K, s.P, 1.f, dyg, s.P, xi + gi * s.cg * s.P, s.P,
                       i == t * per_range ? 0.f : 1.f, accg, s.K);
          continue;
        }
        for (int64_t oy0 = 0; oy0 < g.oh; oy0 += s.block_rows) {
          const int64_t oy1 = std::min(g.oh, oy0 + s.block_rows), cols_n = (oy1 - oy0) * g.ow;
          im2col_rows(g, xi, gi * s.cg, 0, s.K, oy0, oy1, buf);
          sgemm_serial(false, true, s.og, s.K, cols_n, 1.f, dyg + oy0 * g.ow, s.P, buf, cols_n,
                       i == t * per_range && oy0 == 0 ? 0.f : 1.f, accg, s.K);
        }
      }
    }
  });
  if (partials > 0) {
    // dw = ((range 0 + range 1) + range 2) + ...: the same order whichever thread summed what
    parallel_for(wsize, [&](int64_t b, int64_t e, int) {
      for (int t = 0; t < partials; ++t) {
        const float* p = part + static_cast<size_t>(t) * part_stride;
        for (int64_t j = b; j < e; ++j) dw[j] += p[j];
      }
    });
  }
  for (int64_t i = n_split; i < g.n; ++i) {
    const float* xi = x + i * s.in_size;
    const float* dyi = dy + i * s.out_size;
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      const float* col = xi + gi * s.cg * s.P;
      if (!pointwise) {
        im2col_all_threads(g, xi, gi * s.cg, s.K, cols);
        col = cols;
      }
      sgemm(false, true, s.og, s.K, s.P, 1.f, dyi + gi * s.og * s.P, s.P, col, s.P, i == 0 ? 0.f : 1.f,
            dw + gi * s.og * s.K, s.K);
    }
  }
}

void bias_grad(int64_t n, int64_t c, int64_t inner, const float* dy, float* db) {
  // Per (image, channel) row: 8 float partial sums (a fixed order that vectorises), then float64 over rows.
  parallel_for(c, [&](int64_t b, int64_t e, int) {
    for (int64_t ci = b; ci < e; ++ci) {
      double acc = 0;
      for (int64_t ni = 0; ni < n; ++ni) {
        const float* p = dy + (ni * c + ci) * inner;
        float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t i = 0;
        for (; i + 8 <= inner; i += 8)
          for (int k = 0; k < 8; ++k) lane[k] += p[i + k];
        float s = 0.f;
        for (; i < inner; ++i) s += p[i];
        s += ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
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
