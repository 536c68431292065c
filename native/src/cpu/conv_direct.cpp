// Direct convolution on channel-blocked layouts, forward and (stride 1) input and weight gradients: no column matrix.
//
// Per call, the filters are reordered once into blocks wb[group][ob][cb][ky][kx][W ci][W oi] (W = 8 channels on
// AVX2, 16 on AVX-512; channels past a group's end are zeros), shared by the threads. A task is one image, one
// group and a range of output-channel tiles (below two images per thread: one tile and a band of output rows, the
// bands chosen to even out the work over the threads): it reorders that image's group of input channels into
// xb[cb][rows][cols][W] with the padding written as zeros (so the register tile needs no bounds tests), then for
// each tile of OB·W output channels, each output row and each run of NP pixels of it runs the ISA's register tile
// (conv_direct_kernel.h: OB·NP vector accumulators over all input channels and taps, one broadcast input value
// times OB weight vectors per step), and writes the OB·W × NP results back to NCHW with the bias added.
// The input gradient of a stride-1 convolution is the same correlation of dy (padding k − 1 − p) with the filters
// flipped and transposed, so it runs the same code (as Winograd does). The weight gradient has its own tile and
// schedule (weight_grad below).
//
// Determinism: each output is one tile's sum in a fixed (cb, ky, kx, ci) order, computed by one task; forward and
// input gradient do not depend on the thread count or the scheduling, the weight gradient on the thread count only.
// Numerical error: a plain float32 dot product per output (sums of K = cg·kh·kw terms, as im2col + GEMM; measured
// against float64 in native/test/conv_direct.test.ts).
#include "conv_direct.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "convnet/cpu_features.h"
#include "convnet/gemm.h"
#include "convnet/kernels/conv.h"
#include "convnet/threadpool.h"
#include "workspace.h"

namespace convnet {
namespace {

const DirectKernels* choose_kernels() {
  const CpuFeatures& f = cpu_features();
  if (f.avx512) return &direct_kernels_avx512();
  if (f.avx2) {
    const char* emu = std::getenv("CONVNET_GEMM_EMULATE_AVX512");
    if (emu && std::strcmp(emu, "1") == 0) return &direct_kernels_avx2_emulating_avx512();
    return &direct_kernels_avx2();
  }
  return nullptr;  // generic: no direct kernels (im2col + the portable GEMM)
}
const DirectKernels* kernels() {
  static const DirectKernels* k = choose_kernels();
  return k;
}

// A correlation in [n, C, H, W] → out [n, O, OH, OW], stride (sh, sw), padding (ph, pw), kernel kh × kw, `groups`
// groups; filt(gi, o, c, ky, kx): the tap of group gi's output channel o and input channel c (both within the group).
// fold: the kw taps of a row are folded into the channels (lane j = c·kw + kx of column ox holds
// x[c][iy][ox·sw − pw + kx]), leaving a kh × 1, column-stride-1 correlation over cg·kw channels: for layers with few
// input channels (conv1: 3 channels would fill 3 of 8 lanes; 3·11 = 33 folded ones fill 33 of 40).
struct Problem {
  int64_t n, C, H, W, O, OH, OW, kh, kw, sh, sw, ph, pw, groups;
  bool fold;
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <typename Filt>
void run(const Problem& p, const float* in, Filt filt, const float* bias, float* out) {
  const DirectKernels& K = *kernels();
  const int64_t W = K.W, OB = K.OB, NP = K.NP;
  const int64_t cg = p.C / p.groups, og = p.O / p.groups;
  // the tile's view: channels, kernel width and column stride after folding
  const int64_t fc = p.fold ? cg * p.kw : cg, fkw = p.fold ? 1 : p.kw, fsw = p.fold ? 1 : p.sw;
  const int64_t ncb = ceil_div(fc, W), nob = ceil_div(og, W), ntile = ceil_div(nob, OB);
  const int64_t taps = p.kh * fkw;
  // the blocked input covers every row / column a window reads (padding, and windows past the edge under the
  // ceil rule, are zeros)
  const int64_t rows = std::max(p.H + 2 * p.ph, (p.OH - 1) * p.sh + p.kh);
  const int64_t cols = p.fold ? p.OW : std::max(p.W + 2 * p.pw, (p.OW - 1) * p.sw + p.kw);
  const int64_t x_row = cols * W, x_cb = rows * x_row;
  // weights [ob][cb][ky][kx][ci][oi]: the tile reads ob0 .. ob0 + OB of one cb, w_ob apart
  const int64_t w_ob = ncb * taps * W * W, w_group = nob * w_ob;
  // tasks: (image, group, run of output tiles, band of output rows); an image is split only when there are too few
  // images to give every thread two tasks (batch 1 inference): then into single tiles times `bands` row bands, the
  // count (≤ 8) that evens out the work over the threads best (conv2 at batch 1, 3 tiles on 2 threads: 2 bands)
  const int T = num_threads();
  int64_t per_image = 1, bands = 1;
  if (p.n * p.groups < 2 * T) {
    per_image = ntile;
    double best = 0;
    for (int64_t b = 1; b <= std::min<int64_t>(8, p.OH); ++b) {
      const int64_t units = p.n * p.groups * ntile * b;
      const double use = static_cast<double>(units) / static_cast<double>(T * ceil_div(units, T));
      if (use > best + 1e-9) best = use, bands = b;
    }
  }
  const int64_t tiles_per_task = ceil_div(ntile, per_image);
  const int64_t tasks = p.n * p.groups * per_image * bands;
  const int slots = task_threads(tasks);  // parallel_tasks hands out thread indices below this
  const size_t wb_floats = slice_stride(p.groups * w_group);
  // a row's pixels in row_tiles runs of nearly equal length (27 = 6 + 6 + 5 + 5 + 5 rather than 6 + 6 + 6 + 6 + 3:
  // a short run has too few accumulators to hide the FMA latency)
  const int64_t row_tiles = ceil_div(p.OW, NP), row_base = p.OW / row_tiles, row_extra = p.OW % row_tiles;
  const int64_t row_floats = p.OW * W;                                // one output row of one block
  const size_t xb_stride = slice_stride(ncb * x_cb + OB * row_floats);  // the input blocks, then a row of results
  float* wb = workspace(wb_floats + xb_stride * static_cast<size_t>(slots));
  float* scratch = wb + wb_floats;

  // wb[gi][ob][cb][ky][kx][ci][oi] = filt(gi, ob·W + oi, cb·W + ci, ky, kx), zeros past the group's channels
  parallel_for(p.groups * nob, [&](int64_t b, int64_t e, int) {
    for (int64_t gob = b; gob < e; ++gob) {
      const int64_t gi = gob / nob, ob = gob % nob, on = std::min(W, og - ob * W);
      float* dst = wb + gi * w_group + ob * w_ob;
      std::memset(dst, 0, sizeof(float) * static_cast<size_t>(w_ob));
      for (int64_t c = 0; c < cg; ++c)
        for (int64_t ky = 0; ky < p.kh; ++ky)
          for (int64_t kx = 0; kx < p.kw; ++kx) {
            const int64_t j = p.fold ? c * p.kw + kx : c, t = p.fold ? ky : ky * p.kw + kx;
            float* d = dst + (((j / W) * taps + t) * W + j % W) * W;
            for (int64_t oi = 0; oi < on; ++oi) d[oi] = filt(gi, ob * W + oi, c, ky, kx);
          }
    }
  });

  parallel_tasks(tasks, [&](int64_t task, int tid) {
    const int64_t band = task % bands, rest = task / bands;
    const int64_t img = rest / (p.groups * per_image), gi = (rest / per_image) % p.groups, part = rest % per_image;
    const int64_t t0 = part * tiles_per_task, t1 = std::min(ntile, t0 + tiles_per_task);
    const int64_t oy0 = band * p.OH / bands, oy1 = (band + 1) * p.OH / bands;
    if (t0 >= t1 || oy0 >= oy1) return;
    float* xb = scratch + static_cast<size_t>(tid) * xb_stride;
    float* res = xb + ncb * x_cb;
    // xb[cb][r][c][ci]: zeros, then the group's channels
    std::memset(xb, 0, sizeof(float) * static_cast<size_t>(ncb * x_cb));
    for (int64_t c = 0; c < cg; ++c) {
      const float* src = in + ((img * p.C) + gi * cg + c) * p.H * p.W;
      if (!p.fold) {
        float* dst = xb + (c / W) * x_cb + (p.ph * cols + p.pw) * W + c % W;
        for (int64_t y = 0; y < p.H; ++y)
          for (int64_t x = 0; x < p.W; ++x) dst[(y * cols + x) * W] = src[y * p.W + x];
        continue;
      }
      for (int64_t kx = 0; kx < p.kw; ++kx) {
        const int64_t j = c * p.kw + kx;
        float* dst = xb + (j / W) * x_cb + p.ph * x_row + j % W;
        const ValidRange xr = conv_valid_outputs(p.W, p.OW, p.sw, p.pw, kx);
        for (int64_t y = 0; y < p.H; ++y) {
          const float* row = src + y * p.W + kx - p.pw;
          float* d = dst + y * x_row;
          for (int64_t ox = xr.lo; ox < xr.hi; ++ox) d[ox * W] = row[ox * p.sw];
        }
      }
    }
    const float* wg = wb + gi * w_group;
    DirectTileArgs a{nullptr, x_row, fsw, p.kh, fkw, nullptr, w_ob, nullptr, row_floats, false};
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t ob0 = t * OB, obn = std::min(OB, nob - ob0);
      const int64_t o_lo = ob0 * W, o_hi = std::min(og, (ob0 + obn) * W);
      for (int64_t oy = oy0; oy < oy1; ++oy) {
        // res[ob][ox][oi]: one output row of this tile, summed one input channel block at a time (its weights,
        // OB·W·W·kh·kw floats, stay in L1 over the row)
        for (int64_t cb = 0; cb < ncb; ++cb) {
          a.w = wg + ob0 * w_ob + cb * taps * W * W;
          a.accumulate = cb > 0;
          for (int64_t q = 0, ox0 = 0; q < row_tiles; ++q) {
            const int64_t np = row_base + (q < row_extra ? 1 : 0);
            a.x = xb + cb * x_cb + (oy * p.sh) * x_row + ox0 * fsw * W;
            a.out = res + ox0 * W;
            K.tile[fsw == 1][obn - 1][np - 1](a);
            ox0 += np;
          }
        }
        // res → out[img][gi·og + o][oy][·] (+ bias)
        for (int64_t o = o_lo; o < o_hi; ++o) {
          const int64_t oc = gi * og + o;
          const float bv = bias ? bias[oc] : 0.f;
          const float* r = res + ((o - o_lo) / W) * row_floats + (o % W);
          float* dst = out + ((img * p.O + oc) * p.OH + oy) * p.OW;
          for (int64_t ox = 0; ox < p.OW; ++ox) dst[ox] = r[ox * W] + bv;
        }
      }
    }
  });
}

// Weight gradient, stride 1: dw[o][c][ky][kx] = Σ over images and output pixels of dy[o][oy][ox] · xpad[c][oy + ky][ox + kx].
// The images go in R = min(T, n) fixed contiguous ranges, each summed into its own blocked dw (the forward's weight
// layout [ob][cb][ky][kx][ci][oi]); per image and group, x is blocked as in the forward and dy into [ob][pixel][W];
// then per band of kBandRows output rows (dy and x bands stay in L1), per WOB output blocks, input block, tap and
// WNC input channels, the ISA's tile sums the band's pixels into WOB·WNC vector accumulators. The ranges' sums are
// added in range order: results depend on the thread count only (as im2col + GEMM's weight gradient).
constexpr int64_t kBandRows = 4;
void weight_grad(const ConvGeom& g, const float* x, const float* dy, float* dw) {
  const DirectKernels& K = *kernels();
  const int64_t W = K.W, WOB = K.WOB, WNC = K.WNC;
  const int64_t cg = g.c / g.groups, og = g.o / g.groups, taps = g.kh * g.kw, P = g.oh * g.ow;
  const int64_t ncb = ceil_div(cg, W), nob = ceil_div(og, W);
  const int64_t rows = g.h + 2 * g.ph, cols = g.w + 2 * g.pw, x_row = cols * W, x_cb = rows * x_row;
  const int64_t dy_ob = P * W, w_ob = ncb * taps * W * W, w_group = nob * w_ob;
  const int R = static_cast<int>(std::min<int64_t>(num_threads(), g.n));
  const size_t dwb_floats = slice_stride(g.groups * w_group), xb_floats = slice_stride(ncb * x_cb),
               range_stride = dwb_floats + xb_floats + slice_stride(nob * dy_ob);
  float* base = workspace(range_stride * static_cast<size_t>(R));

  parallel_tasks(R, [&](int64_t r, int) {
    float* dwb = base + static_cast<size_t>(r) * range_stride;
    float* xb = dwb + dwb_floats;
    float* dyb = xb + xb_floats;
    std::memset(dwb, 0, sizeof(float) * static_cast<size_t>(g.groups * w_group));
    const int64_t i0 = r * g.n / R, i1 = (r + 1) * g.n / R;
    DirectWgradArgs a{nullptr, x_row, nullptr, dy_ob, g.ow, 0, nullptr, w_ob};
    for (int64_t i = i0; i < i1; ++i) {
      for (int64_t gi = 0; gi < g.groups; ++gi) {
        std::memset(xb, 0, sizeof(float) * static_cast<size_t>(ncb * x_cb));
        for (int64_t c = 0; c < cg; ++c) {
          const float* src = x + ((i * g.c) + gi * cg + c) * g.h * g.w;
          float* dst = xb + (c / W) * x_cb + (g.ph * cols + g.pw) * W + c % W;
          for (int64_t y = 0; y < g.h; ++y)
            for (int64_t xx = 0; xx < g.w; ++xx) dst[(y * cols + xx) * W] = src[y * g.w + xx];
        }
        std::memset(dyb, 0, sizeof(float) * static_cast<size_t>(nob * dy_ob));
        for (int64_t o = 0; o < og; ++o) {
          const float* src = dy + ((i * g.o) + gi * og + o) * P;
          float* dst = dyb + (o / W) * dy_ob + o % W;
          for (int64_t q = 0; q < P; ++q) dst[q * W] = src[q];
        }
        float* dwg = dwb + gi * w_group;
        for (int64_t r0 = 0; r0 < g.oh; r0 += kBandRows) {
          a.rows = std::min(kBandRows, g.oh - r0);
          for (int64_t ob0 = 0; ob0 < nob; ob0 += WOB) {
            const int64_t obn = std::min(WOB, nob - ob0);
            a.dy = dyb + ob0 * dy_ob + r0 * g.ow * W;
            for (int64_t cb = 0; cb < ncb; ++cb)
              for (int64_t ky = 0; ky < g.kh; ++ky)
                for (int64_t kx = 0; kx < g.kw; ++kx)
                  for (int64_t ci0 = 0; ci0 < W && cb * W + ci0 < cg; ci0 += WNC) {
                    const int64_t ncn = std::min(WNC, W - ci0);
                    a.x = xb + cb * x_cb + (r0 + ky) * x_row + kx * W + ci0;
                    a.acc = dwg + ob0 * w_ob + ((cb * taps + ky * g.kw + kx) * W + ci0) * W;
                    K.wgrad[obn - 1][ncn - 1](a);
                  }
          }
        }
      }
    }
  });
  // dw[o][c][t] = Σ_r dwb_r[gi][ob][cb][t][ci][oi], ranges in order
  parallel_for(g.o, [&](int64_t o0, int64_t o1, int) {
    for (int64_t o = o0; o < o1; ++o) {
      const int64_t gi = o / og, ol = o % og;
      const float* src = base + gi * w_group + (ol / W) * w_ob + ol % W;
      for (int64_t c = 0; c < cg; ++c)
        for (int64_t t = 0; t < taps; ++t) {
          const size_t off = static_cast<size_t>((((c / W) * taps + t) * W + c % W) * W);
          float sum = 0.f;
          for (int r = 0; r < R; ++r) sum += src[static_cast<size_t>(r) * range_stride + off];
          dw[(o * cg + c) * taps + t] = sum;
        }
    }
  });
}

// Forward only: fold the taps of a row into the channels when the group has fewer channels than a block.
bool fold_taps(const ConvGeom& g) { return g.c / g.groups < kernels()->W; }

}  // namespace

ConvAlgo conv_algo_forced() {
  const char* e = std::getenv("CONVNET_CONV_ALGO");
  if (!e) return ConvAlgo::Rule;
  if (!std::strcmp(e, "gemm")) return ConvAlgo::Gemm;
  if (!std::strcmp(e, "winograd")) return ConvAlgo::Winograd;
  if (!std::strcmp(e, "direct")) return ConvAlgo::Direct;
  return ConvAlgo::Rule;
}

const char* direct_name() { return kernels() ? kernels()->name : "direct (none on this ISA)"; }

bool direct_applies(const ConvGeom& g, bool backward_input) {
  // bf16 matrix products are the GEMM engine's; the direct kernels are float32 only
  if (!kernels() || matmul_precision() != MatmulPrecision::fp32) return false;
  if (g.n <= 0 || g.oh <= 0 || g.ow <= 0 || g.c <= 0 || g.o <= 0) return false;
  if (!backward_input) return true;
  // dx is a stride-1 correlation of dy only for stride 1 with floor-rule sizes and padding < kernel size
  return g.sh == 1 && g.sw == 1 && g.ph < g.kh && g.pw < g.kw && g.oh == g.h + 2 * g.ph - g.kh + 1 &&
         g.ow == g.w + 2 * g.pw - g.kw + 1;
}

// The measured rule (apps/trainer/bench/layers.mjs prints the choice per shape): see ARCHITECTURE.md.
bool use_direct(const ConvGeom& g, bool backward_input) {
  if (!direct_applies(g, backward_input)) return false;
  const ConvAlgo f = conv_algo_forced();
  if (f != ConvAlgo::Rule) return f == ConvAlgo::Direct;
  const int64_t cg = g.c / g.groups, og = g.o / g.groups, W = kernels()->W;
  if (g.sh != 1 || g.sw != 1 || cg < 2 * W || og < 2 * W) return false;
  // 3×3 forward at small batch: direct (Winograd's per-call filter transform is not amortised over the images)
  return g.kh * g.kw >= 25 || (!backward_input && g.kh == 3 && g.kw == 3 && g.n < kDirectSmallBatch);
}

void direct_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y) {
  const Problem p{g.n, g.c, g.h, g.w, g.o, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.groups, fold_taps(g)};
  const int64_t cg = g.c / g.groups, taps = g.kh * g.kw;
  const int64_t og = g.o / g.groups;
  run(p, x, [&](int64_t gi, int64_t o, int64_t c, int64_t ky, int64_t kx) {
    return w[((gi * og + o) * cg + c) * taps + ky * g.kw + kx];
  }, b, y);
}

bool use_direct_weight(const ConvGeom& g) {
  if (!direct_applies(g, true)) return false;  // stride 1, floor-rule sizes, padding < kernel size
  const ConvAlgo f = conv_algo_forced();
  if (f != ConvAlgo::Rule) return f == ConvAlgo::Direct;
  const int64_t cg = g.c / g.groups, og = g.o / g.groups, W = kernels()->W;
  return g.kh * g.kw >= 25 && cg >= 2 * W && og >= 2 * W;
}

void direct_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw) { weight_grad(g, x, dy, dw); }

void direct_backward_input(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  // dx [n, c, h, w] = correlation of dy [n, o, oh, ow] (padding k − 1 − p) with w'[c][o] = w[o][c] flipped, per
  // group: dx channel c of group gi reads the group's og channels o of dy.
  const Problem p{g.n, g.o, g.oh, g.ow, g.c, g.h, g.w, g.kh, g.kw, 1, 1, g.kh - 1 - g.ph, g.kw - 1 - g.pw, g.groups, false};
  const int64_t cg = g.c / g.groups, og = g.o / g.groups, taps = g.kh * g.kw;
  run(p, dy,
      [&](int64_t gi, int64_t c, int64_t o, int64_t ky, int64_t kx) {
        return w[((gi * og + o) * cg + c) * taps + (g.kh - 1 - ky) * g.kw + (g.kw - 1 - kx)];
      },
      nullptr, dx);
}

}  // namespace convnet
