// Direct convolution for first layers: few input channels (≤ 4), a large kernel (≥ 25 taps), any stride and padding,
// one group (AlexNet's conv1: 3 channels, 11×11, stride 4). Forward and weight gradient; the input gradient of a
// first layer is not needed, and other layers go to the other algorithms (conv.cpp).
//
// im2col + GEMM spends most of conv1's time writing and packing a column matrix 121× the size of the input for a
// product whose reduction (K = 363) is short. Here the input is read where it lies (NCHW, or a zero-padded copy of
// the rows a task reads when the layer pads or windows run past the edge), one broadcast value per pixel and tap,
// against W-channel weight vectors (W = 16 on AVX-512, 8 on AVX2; conv_first_kernel.h):
//  - forward: the filters are reordered once per call into wb[ob][c][ky][kx][W oi] (zeros past the last output
//    channel). A task is one image and a band of its output rows (bands only when there are fewer than 2 images per
//    thread: batch 1 splits one image over the threads); per tile of OB output blocks, output row and run of NP
//    pixels, the register tile sums all taps of an input channel (its weights, OB·W·kh·kw floats, stay in L1 over
//    the row), channels one after another, then the row goes to NCHW with the bias added.
//  - weight gradient: the images go in R = min(T, n) fixed contiguous ranges, each summed into its own blocked dw
//    [ob][c][ky][kx][W]; per image dy is blocked into [ob][pixel][W]; per tile of OB output blocks, band of output
//    rows (its dy stays in L1), input channel, filter row and run of NT taps, the tile sums the band's pixels into
//    OB·NT vector accumulators. The ranges' sums are added in range order.
// Determinism: every forward output is one tile's sum in a fixed (c, ky, kx) order, whatever the thread count; the
// weight gradient depends on the thread count only (as im2col + GEMM's).
// Numerical error: a float32 dot product per output (forward: K = c·kh·kw terms; weight gradient: a float32 sum per
// band of output rows, the bands' sums added in order, images in order), measured against float64 in
// native/test/conv_first.test.ts.
#include "conv_first.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "convnet/cpu_features.h"
#include "convnet/gemm.h"
#include "convnet/threadpool.h"
#include "workspace.h"

namespace convnet {
namespace {

const FirstKernels* choose_kernels() {
  const CpuFeatures& f = cpu_features();
  if (f.avx512) return &first_kernels_avx512();
  if (f.avx2) {
    const char* emu = std::getenv("CONVNET_GEMM_EMULATE_AVX512");
    if (emu && std::strcmp(emu, "1") == 0) return &first_kernels_avx2_emulating_avx512();
    return &first_kernels_avx2();
  }
  return nullptr;  // generic: im2col + the portable GEMM
}
const FirstKernels* kernels() {
  static const FirstKernels* k = choose_kernels();
  return k;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Part q of n nearly equal parts of [0, total): [lo, hi).
struct Range {
  int64_t lo, hi;
};
Range part(int64_t total, int64_t n, int64_t q) { return {q * total / n, (q + 1) * total / n}; }

// The layer's input as the tiles read it: the NCHW input itself when no window reaches outside it, else a zero-padded
// copy (rows and columns from −ph / −pw, wide and tall enough for every window).
struct Input {
  bool in_place;
  int64_t cols;  // floats between rows
  explicit Input(const ConvGeom& g)
      : in_place(g.ph == 0 && g.pw == 0 && (g.oh - 1) * g.sh + g.kh <= g.h && (g.ow - 1) * g.sw + g.kw <= g.w),
        cols(in_place ? g.w : std::max(g.w + 2 * g.pw, (g.ow - 1) * g.sw + g.kw)) {}
  // Input rows [iy0, iy0 + rows) (padded coordinates: iy0 = −ph is the first padded row) of every channel of image
  // xi [c][h][w] into dst [c][rows][cols], zeros outside the image.
  void copy(const ConvGeom& g, const float* xi, int64_t iy0, int64_t rows, float* dst) const {
    for (int64_t c = 0; c < g.c; ++c)
      for (int64_t r = 0; r < rows; ++r) {
        float* d = dst + (c * rows + r) * cols;
        const int64_t iy = iy0 + r;
        if (iy < 0 || iy >= g.h) {
          std::memset(d, 0, sizeof(float) * static_cast<size_t>(cols));
          continue;
        }
        const float* s = xi + (c * g.h + iy) * g.w;
        const int64_t right = cols - g.pw - g.w;  // ≥ 0
        std::memset(d, 0, sizeof(float) * static_cast<size_t>(g.pw));
        std::memcpy(d + g.pw, s, sizeof(float) * static_cast<size_t>(g.w));
        std::memset(d + g.pw + g.w, 0, sizeof(float) * static_cast<size_t>(right));
      }
  }
};

// Blocks of output channels per tile: ceil(nob / OB) tiles of nearly equal size.
int64_t num_tiles(const FirstKernels& K, int64_t nob) { return ceil_div(nob, K.OB); }

bool forced_off() {
  const char* e = std::getenv("CONVNET_CONV_ALGO");
  return e && (!std::strcmp(e, "gemm") || !std::strcmp(e, "winograd") || !std::strcmp(e, "direct"));
}
bool forced_on() {
  const char* e = std::getenv("CONVNET_CONV_ALGO");
  return e && !std::strcmp(e, "first");
}

}  // namespace

const char* first_name() { return kernels() ? kernels()->name : "direct first-layer (none on this ISA)"; }

bool use_first(const ConvGeom& g) {
  // bf16 matrix products are the GEMM engine's; these kernels are float32 only
  if (!kernels() || matmul_precision() != MatmulPrecision::fp32) return false;
  if (g.n <= 0 || g.oh <= 0 || g.ow <= 0 || g.c <= 0 || g.o <= 0 || g.groups != 1) return false;
  if (g.c > 4 || forced_off()) return false;
  return forced_on() || g.kh * g.kw >= 25;
}

void first_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y) {
  const FirstKernels& K = *kernels();
  const int64_t W = K.W, nob = ceil_div(g.o, W), ntile = num_tiles(K, nob);
  const int64_t taps = g.kh * g.kw, w_ob = g.c * taps * W;
  const Input in(g);
  // tasks: (image, band of output rows); bands only when there are fewer than two images per thread
  const int T = num_threads();
  const int64_t bands = std::min(g.oh, std::max<int64_t>(1, ceil_div(2 * T, g.n)));
  const int64_t tasks = g.n * bands, band_rows = ceil_div(g.oh, bands);
  const int64_t in_rows = (band_rows - 1) * g.sh + g.kh;  // input rows a band reads
  const int64_t row_floats = g.ow * W;                     // one output row of one block
  const int slots = task_threads(tasks);  // parallel_tasks hands out thread indices below this
  const size_t wb_floats = slice_stride(nob * w_ob);
  const size_t slot_stride = slice_stride((in.in_place ? 0 : g.c * in_rows * in.cols) + K.OB * row_floats);
  float* wb = workspace(wb_floats + slot_stride * static_cast<size_t>(slots));
  float* scratch = wb + wb_floats;
  // input channels per register-tile call: the tile's weights for them stay within 32 KiB of L1
  const int64_t tile_channel_bytes = K.OB * W * taps * static_cast<int64_t>(sizeof(float));
  const int64_t nc_step = std::min<int64_t>(g.c, std::max<int64_t>(1, (32 << 10) / tile_channel_bytes));

  // wb[ob][c][ky][kx][oi] = w[ob·W + oi][c][ky][kx], zeros past the last output channel
  parallel_for(nob, [&](int64_t b0, int64_t b1, int) {
    for (int64_t ob = b0; ob < b1; ++ob) {
      float* dst = wb + ob * w_ob;
      std::memset(dst, 0, sizeof(float) * static_cast<size_t>(w_ob));
      for (int64_t oi = 0; oi < W && ob * W + oi < g.o; ++oi) {
        const float* src = w + (ob * W + oi) * g.c * taps;
        for (int64_t t = 0; t < g.c * taps; ++t) dst[t * W + oi] = src[t];
      }
    }
  });

  parallel_tasks(tasks, [&](int64_t task, int tid) {
    const int64_t img = task / bands;
    const Range oys = part(g.oh, bands, task % bands);
    if (oys.lo >= oys.hi) return;
    float* slot = scratch + static_cast<size_t>(tid) * slot_stride;
    const float* xi = x + img * g.c * g.h * g.w;
    const float* src;
    int64_t x_ch;
    if (in.in_place) {
      src = xi + oys.lo * g.sh * g.w;
      x_ch = g.h * g.w;
    } else {
      const int64_t rows = (oys.hi - oys.lo - 1) * g.sh + g.kh;
      in.copy(g, xi, oys.lo * g.sh - g.ph, rows, slot);
      src = slot;
      x_ch = rows * in.cols;
    }
    float* res = slot + (in.in_place ? 0 : g.c * in_rows * in.cols);
    FirstFwdArgs a{nullptr, x_ch, in.cols, g.sw, 0, g.kh, g.kw, nullptr, w_ob, nullptr, row_floats, false};
    for (int64_t t = 0; t < ntile; ++t) {
      const Range obs = part(nob, ntile, t);
      const int64_t obn = obs.hi - obs.lo, np_max = K.np_max[obn - 1];
      const int64_t runs = ceil_div(g.ow, np_max);
      const int64_t o_lo = obs.lo * W, o_hi = std::min(g.o, obs.hi * W);
      for (int64_t oy = oys.lo; oy < oys.hi; ++oy) {
        const float* xrow = src + (oy - oys.lo) * g.sh * in.cols;
        for (int64_t c0 = 0; c0 < g.c; c0 += nc_step) {
          a.nc = std::min(nc_step, g.c - c0);
          a.w = wb + obs.lo * w_ob + c0 * taps * W;
          a.accumulate = c0 > 0;
          for (int64_t q = 0; q < runs; ++q) {
            const Range ox = part(g.ow, runs, q);
            a.x = xrow + c0 * x_ch + ox.lo * g.sw;
            a.out = res + ox.lo * W;
            K.fwd[g.sw == 4][obn - 1][ox.hi - ox.lo - 1](a);
          }
        }
        // res → y[img][o][oy][·] (+ bias)
        float* yrow = y + ((img * g.o + o_lo) * g.oh + oy) * g.ow;
        K.store({res, row_floats, g.ow, o_hi - o_lo, b ? b + o_lo : nullptr, yrow, g.oh * g.ow});
      }
    }
  });
}

void first_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw) {
  const FirstKernels& K = *kernels();
  const int64_t W = K.W, nob = ceil_div(g.o, W), ntile = num_tiles(K, nob);
  const int64_t taps = g.kh * g.kw, P = g.oh * g.ow, acc_ob = g.c * taps * W, dy_ob = P * W;
  const Input in(g);
  const int64_t rows = in.in_place ? g.h : (g.oh - 1) * g.sh + g.kh, x_ch = rows * in.cols;
  const int R = static_cast<int>(std::min<int64_t>(num_threads(), g.n));
  const size_t dwb_floats = slice_stride(nob * acc_ob), xb_floats = in.in_place ? 0 : slice_stride(g.c * x_ch),
               range_stride = dwb_floats + xb_floats + slice_stride(nob * dy_ob);
  float* base = workspace(range_stride * static_cast<size_t>(R));

  parallel_tasks(R, [&](int64_t r, int) {
    float* dwb = base + static_cast<size_t>(r) * range_stride;
    float* xb = dwb + dwb_floats;
    float* dyb = xb + xb_floats;
    std::memset(dwb, 0, sizeof(float) * static_cast<size_t>(nob * acc_ob));
    std::memset(dyb, 0, sizeof(float) * static_cast<size_t>(nob * dy_ob));  // lanes past the last channel stay 0
    const Range imgs = part(g.n, R, r);
    FirstWgradArgs a{nullptr, g.sh * in.cols, g.sw, nullptr, dy_ob, g.ow, 0, nullptr, acc_ob};
    for (int64_t i = imgs.lo; i < imgs.hi; ++i) {
      const float* xi = x + i * g.c * g.h * g.w;
      const float* xs = xi;
      if (!in.in_place) {
        in.copy(g, xi, -g.ph, rows, xb);
        xs = xb;
      }
      K.block({dy + i * g.o * P, g.o, P, dyb, dy_ob});
      for (int64_t t = 0; t < ntile; ++t) {
        const Range obs = part(nob, ntile, t);
        const int64_t obn = obs.hi - obs.lo, nt_max = K.np_max[obn - 1], chunks = ceil_div(g.kw, nt_max);
        // output rows per band: the band's dy (obn·W floats per pixel) within 32 KiB of L1
        const int64_t band = std::max<int64_t>(1, (32 << 10) / (obn * W * g.ow * static_cast<int64_t>(sizeof(float))));
        for (int64_t r0 = 0; r0 < g.oh; r0 += band) {
          a.rows = std::min(band, g.oh - r0);
          a.dy = dyb + obs.lo * dy_ob + r0 * g.ow * W;
          for (int64_t c = 0; c < g.c; ++c)
            for (int64_t ky = 0; ky < g.kh; ++ky)
              for (int64_t q = 0; q < chunks; ++q) {
                const Range kx = part(g.kw, chunks, q);
                a.x = xs + c * x_ch + (r0 * g.sh + ky) * in.cols + kx.lo;
                a.acc = dwb + obs.lo * acc_ob + ((c * g.kh + ky) * g.kw + kx.lo) * W;
                K.wgrad[g.sw == 4][obn - 1][kx.hi - kx.lo - 1](a);
              }
        }
      }
    }
  });
  // dw[o][c][ky][kx] = Σ_r dwb_r[o / W][c][ky][kx][o % W], ranges in order
  parallel_for(g.o, [&](int64_t o0, int64_t o1, int) {
    for (int64_t o = o0; o < o1; ++o) {
      const float* src = base + (o / W) * acc_ob + o % W;
      for (int64_t t = 0; t < g.c * taps; ++t) {
        float sum = 0.f;
        for (int r = 0; r < R; ++r) sum += src[static_cast<size_t>(r) * range_stride + t * W];
        dw[o * g.c * taps + t] = sum;
      }
    }
  });
}

}  // namespace convnet
