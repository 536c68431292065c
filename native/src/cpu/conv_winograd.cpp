// Winograd F(4×4, 3×3) convolution for 3×3, stride 1 layers (AlexNet's conv3-5), forward and input gradient.
//
// y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A per 4×4 output tile (d: the 6×6 input patch, g: the 3×3 filter; Lavin & Gray
// 2016, interpolation points 0, ±1, ±2, ∞). Per channel group, with the 36 transformed positions ξ:
//   U[ξ] [og, cg]  = filter transform (once per call, shared by the threads)
//   V[ξ] [cg, T]   = input transform of T tiles (a chunk of images, one chunk per task)
//   M[ξ] [og, T]   = U[ξ] · V[ξ]            (36 GEMMs: sgemm_serial, the run-time dispatched engine)
//   y              = output transform of M (+ bias)
// With og ≤ kMaxTransposedChannels the GEMMs compute Mᵀ[ξ] [T, og] = V[ξ]ᵀ · U[ξ]ᵀ instead (og = 32 or 64 fills the
// AVX2 engine's 16-column tiles, where as rows it left a partial 6-row panel) and the output transform takes 8 (AVX2)
// or 4 output channels of one tile at a time. Measured (AMD EPYC Zen 2, loaded, median CPU-ms, the two builds
// alternated in one process), old layout over Mᵀ, forward / input gradient: batch 128, 1 thread, 28×28 32→32
// 1.07× / 1.04×, 14×14 32→64 1.07-1.10× / 1.05-1.06×, 64→64 1.02-1.08× / 1.03-1.09×; but AlexNet's 13×13 192→384
// batch 32, 2 threads 0.96× / 0.98× (1 thread, batch 8: 0.96× / 0.97×), 96→128 batch 8: 0.92× / 0.97×.
// 36 multiplies per 16 outputs instead of 144: 4× fewer FLOPs in the GEMMs (less on shapes whose output is not a
// multiple of 4: 13×13 in AlexNet is covered by 16×16). The input gradient of a stride-1 3×3 conv is the same
// convolution of dy with the filters flipped and transposed (padding 2 − p), so it runs the same code.
//
// Determinism: every output element is computed by one task in a fixed order whatever the thread count (tasks are
// chunks of whole images), so results do not even depend on the thread count.
// Numerical error (measured in native/test/winograd.test.ts against float64): a few times that of im2col + GEMM,
// still within the conformance tolerances (the transforms' constants 1/4, 1/6, 1/24 and 8 widen the range).
#define CONVNET_WINO_NS wino_generic
#include "conv_winograd_kernel.h"

#include "convnet/cpu_features.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "convnet/gemm.h"
#include "convnet/threadpool.h"
#include "conv_direct.h"
#include "workspace.h"

namespace convnet {
namespace {

constexpr int kM = 4, kXi = 36;  // output tile, transformed positions

const WinoTransforms& transforms() {
  static const WinoTransforms generic{"generic", wino_generic::input_plane_impl<4>, wino_generic::output_plane_impl<4>,
                                      wino_generic::output_tiles_impl<4>,
                                      wino_generic::filter_row_impl<4>, wino_generic::dy_plane_impl<4>,
                                      wino_generic::filter_grad_row_impl<4>};
  return cpu_features().avx2 ? wino_transforms_avx2() : generic;
}

// A stride-1 3×3 correlation: in [n, C, H, W] → out [n, O, OH, OW] with padding (ph, pw), `groups` groups;
// filt(o, c, ky, kx) gives the filter tap of output channel o (0..O) and input channel c within its group (0..C/groups).
struct Problem {
  int64_t n, C, H, W, O, OH, OW, ph, pw, groups;
};

int64_t tiles_per_image(const Problem& p) { return ((p.OH + kM - 1) / kM) * ((p.OW + kM - 1) / kM); }

// Floats between consecutive ξ blocks of V, M and E (rows × nt each): the block rounded up to 16 floats, plus 16 when
// that is a multiple of 1024 floats. The transforms touch all 36 blocks for every 8 tiles; at a 4 KiB-multiple stride
// (e.g. 32 channels × 128 tiles = 16 KiB) the 36 rows fall in one L1 set (8 ways) and evict each other: the 14×14
// layers' output transform ran ~2× slower for it.
int64_t xi_block(int64_t floats) {
  const int64_t b = (floats + 15) & ~int64_t{15};
  return b % 1024 == 0 ? b + 16 : b;
}

// Asks for the cache lines of the next plane while the current one is transformed: the transforms read each
// activation plane once, from memory (the layers' activations are 6-13 MB at batch 128), and the padded copy at the
// start of each plane otherwise waits on every line (a third of the input transform's time on 28×28 planes).
inline void prefetch_plane(const float* p, int64_t floats) {
#if defined(__GNUC__)
  for (int64_t i = 0; i < floats; i += 16) __builtin_prefetch(p + i);
#else
  (void)p, (void)floats;
#endif
}

// Images per task: enough tiles for the GEMMs' columns (~kTargetTiles), but at least one task per thread.
constexpr int64_t kTargetTiles = 128;
constexpr int64_t kMaxTransposedChannels = 64;  // output channels per group up to which the GEMMs compute Mᵀ
int64_t images_per_task(const Problem& p, int threads) {
  const int64_t per = std::max<int64_t>(1, (kTargetTiles + tiles_per_image(p) - 1) / tiles_per_image(p));
  return std::max<int64_t>(1, std::min(per, (p.n + threads - 1) / threads));
}

template <typename Filt>
void run(const Problem& p, const float* in, Filt filt, const float* bias, float* out) {
  const int64_t cg = p.C / p.groups, og = p.O / p.groups;
  const int64_t tw = (p.OW + kM - 1) / kM, Ti = tiles_per_image(p);
  const int T = num_threads();
  const int64_t per = images_per_task(p, T), tasks = (p.n + per - 1) / per;
  const int64_t maxT = per * Ti;
  const size_t u_floats = static_cast<size_t>(kXi * p.O * cg);
  const size_t v_stride = slice_stride(kXi * xi_block(cg * maxT)), m_stride = slice_stride(kXi * xi_block(og * maxT));
  const int slots = task_threads(tasks);  // parallel_tasks hands out thread indices below this
  float* U = workspace(slice_stride(static_cast<int64_t>(u_floats)) + (v_stride + m_stride) * static_cast<size_t>(slots));
  float* scratch = U + slice_stride(static_cast<int64_t>(u_floats));

  const WinoTransforms& tf = transforms();
  const WinoPlane plane{p.H, p.W, p.OH, p.OW, p.ph, p.pw, (p.OH + kM - 1) / kM, tw};
  // U[ξ][o][c] (o over all groups: group gi's block starts at row gi·og)
  parallel_for(p.O, [&](int64_t o0, int64_t o1, int) {
    std::vector<float> g(static_cast<size_t>(9 * cg));
    for (int64_t o = o0; o < o1; ++o) {
      for (int64_t c = 0; c < cg; ++c)
        for (int k = 0; k < 9; ++k) g[k * cg + c] = filt(o, c, k / 3, k % 3);
      tf.filter_row(g.data(), cg, U + o * cg, p.O * cg);
    }
  });

  parallel_tasks(tasks, [&](int64_t task, int tid) {
    float* V = scratch + static_cast<size_t>(tid) * (v_stride + m_stride);
    float* M = V + v_stride;
    const int64_t i0 = task * per, i1 = std::min(p.n, i0 + per), nt = (i1 - i0) * Ti;
    const int64_t vs = xi_block(cg * nt), ms = xi_block(og * nt);  // ξ strides
    for (int64_t gi = 0; gi < p.groups; ++gi) {
      // V[ξ][c][t]
      for (int64_t c = 0; c < cg; ++c)
        for (int64_t i = i0; i < i1; ++i) {
          const float* src = in + ((i * p.C) + gi * cg + c) * p.H * p.W;
          prefetch_plane(i + 1 < i1 ? src + p.C * p.H * p.W : src + p.H * p.W - (i1 - 1 - i0) * p.C * p.H * p.W, p.H * p.W);
          tf.input_plane(plane, src, V + c * nt + (i - i0) * Ti, vs);
        }
      if (og <= kMaxTransposedChannels) {
        // Mᵀ[ξ] [nt, og] = V[ξ]ᵀ · U[ξ]ᵀ (group block), then y
        for (int xi = 0; xi < kXi; ++xi)
          sgemm_serial(true, true, nt, og, cg, 1.f, V + xi * vs, nt, U + (xi * p.O + gi * og) * cg, cg, 0.f, M + xi * ms, og);
        for (int64_t i = i0; i < i1; ++i)
          tf.output_tiles(plane, M + (i - i0) * Ti * og, ms, og, og, bias ? bias + gi * og : nullptr,
                          out + (i * p.O + gi * og) * p.OH * p.OW, p.OH * p.OW);
        continue;
      }
      // M[ξ] [og, nt] = U[ξ] (group block) · V[ξ], then y
      for (int xi = 0; xi < kXi; ++xi)
        sgemm_serial(false, false, og, nt, cg, 1.f, U + (xi * p.O + gi * og) * cg, cg, V + xi * vs, nt, 0.f, M + xi * ms, nt);
      for (int64_t oc = 0; oc < og; ++oc) {
        const int64_t o = gi * og + oc;
        for (int64_t i = i0; i < i1; ++i)
          tf.output_plane(plane, M + oc * nt + (i - i0) * Ti, ms, bias ? bias[o] : 0.f, out + (i * p.O + o) * p.OH * p.OW);
      }
    }
  });
}

}  // namespace

bool winograd_applies(const ConvGeom& g) {
  return g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.ph <= 2 && g.pw <= 2 && g.oh == g.h + 2 * g.ph - 2 &&
         g.ow == g.w + 2 * g.pw - 2 && g.oh > 0 && g.ow > 0 && g.n > 0;
}

// The measured rule (apps/trainer/bench/layers.mjs prints it): Winograd for 3×3 stride-1 layers with at least
// kMinChannels input and output channels per group and at least one image per thread; im2col + GEMM otherwise.
// Measured 2026-12-03, AMD EPYC Zen 2 (AVX2), 2 threads, CPU-ms of forward / input gradient, im2col+GEMM over
// Winograd: 13×13 192→384 batch 32: 1.89× / 1.83×; 384→256: 2.04× / 2.16×; 384→384 groups 2: 2.02× / 1.83×;
// batch 8: 1.70× / 1.59×; batch 2 (one image per thread): 1.06× / 0.95×. Below one image per thread a task would
// idle a thread, while the GEMM path splits a lone image over all threads. The weight gradient uses the same rule
// (use_winograd_weight; measured below it).
// Few channels, re-measured after the AVX2 transforms were vectorised (same machine, loaded, median CPU-ms in one
// process, the algorithms alternated; forward / input gradient / weight gradient, im2col+GEMM over Winograd), batch
// 128, 2 threads: 28×28 32→32 2.2× / 2.3× / 3.3× (1 thread); 16→16 1.94× / 1.94× / 2.26×; 16→32 1.87× / 1.79× /
// 2.03×; 8→8 1.91× / 1.63× / 1.77×; 8→32 1.28× / 1.38× / 1.20×; 32→8 2.63× / 2.39× / 2.91×; 6→6 1.42× / 1.52× /
// 1.62×; 4→4 1.45× / 1.43× / 1.57×; 4→16 1.05× / 1.08× / 0.97×; 3→32 0.87× / 0.87× / 0.62× (1 thread); 1→32
// 0.47× / - / 0.40× (1 thread); 13×13 16→16 batch 32: 2.19× / 1.98× / 2.12×; 8→8: 1.77× / 1.57× / 1.64×, batch 4:
// 1.01× / 1.17× / 1.22×; 8→16 batch 4: 1.13× / 1.04× / 0.99×. So the bound is 8 channels each way (it was 32 while
// the transforms cost as much as the GEMMs they feed: 16→16 measured 1.12× / 1.00× then). The portable transforms
// (no AVX2) keep that gather and the bound of 32.
int64_t min_channels() { return cpu_features().avx2 ? 8 : 32; }
// Under bf16 matrix products the rule never picks Winograd (forcing it with CONVNET_CONV_ALGO=winograd still
// works): its transformed tiles span a wider range than the inputs, so rounding them to bf16 costs 5-11% max error
// (native/test/conv_bf16.test.ts measures it) against about 0.5% for im2col + GEMM, whose error bound the bf16
// convolution keeps on every ISA.
static bool bf16_products() { return matmul_precision() == MatmulPrecision::bf16; }
bool use_winograd(const ConvGeom& g, bool backward_input) {
  if (!winograd_applies(g)) return false;
  const ConvAlgo f = conv_algo_forced();  // CONVNET_CONV_ALGO=gemm|winograd|direct overrides the rule
  if (f == ConvAlgo::Winograd) return true;
  if (f == ConvAlgo::Gemm || (f == ConvAlgo::Direct && direct_applies(g, backward_input))) return false;
  if (bf16_products()) return false;
  const int64_t cg = g.c / g.groups, og = g.o / g.groups;
  // (the same rule measured for both directions; a forward of fewer than kDirectSmallBatch images goes direct)
  if (!backward_input && g.n < kDirectSmallBatch && use_direct(g, false)) return false;
  return cg >= min_channels() && og >= min_channels() && g.n >= num_threads();
}

void winograd_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y) {
  const Problem p{g.n, g.c, g.h, g.w, g.o, g.oh, g.ow, g.ph, g.pw, g.groups};
  const int64_t cg = g.c / g.groups;
  run(p, x, [&](int64_t o, int64_t c, int ky, int kx) { return w[((o * cg + c) * 3 + ky) * 3 + kx]; }, b, y);
}

void winograd_backward_input(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  // dx [n, c, h, w] = correlation of dy [n, o, oh, ow] (padding 2 − p) with w'[c][o'] = w[o][c] flipped,
  // per group: output channel c of group gi reads the group's og channels of dy.
  const Problem p{g.n, g.o, g.oh, g.ow, g.c, g.h, g.w, 2 - g.ph, 2 - g.pw, g.groups};
  const int64_t cg = g.c / g.groups, og = g.o / g.groups;
  run(p, dy,
      [&](int64_t c, int64_t o, int ky, int kx) {
        const int64_t gi = c / cg, oc = gi * og + o, ic = c % cg;
        return w[((oc * cg + ic) * 3 + (2 - ky)) * 3 + (2 - kx)];
      },
      nullptr, dx);
}

// Weight gradient: dw = Σ over images and tiles of Gᵀ [ (A e Aᵀ) ⊙ (Bᵀ d B) ] G (e: a 4×4 tile of dy, zeros past the
// output; d: the 6×6 input patch), the sum over tiles taken in the transformed domain: per ξ, M[ξ] [og, cg] +=
// E[ξ] [og, tiles] · V[ξ]ᵀ [tiles, cg] (36 GEMMs over chunks of images), then Gᵀ M G per filter.
// Determinism: the images are split into R = min(T, n) fixed contiguous ranges, each summed into its own M; the
// ranges' filter gradients are added in range order, so results depend on the thread count only (as im2col + GEMM's).
constexpr int64_t kWeightChunkTiles = 128;  // tiles per GEMM depth chunk (images × tiles per image)
bool use_winograd_weight(const ConvGeom& g) {
  if (!winograd_applies(g)) return false;
  const ConvAlgo f = conv_algo_forced();
  if (f != ConvAlgo::Rule) return f == ConvAlgo::Winograd;
  if (bf16_products()) return false;
  const int64_t cg = g.c / g.groups, og = g.o / g.groups;
  return cg >= min_channels() && og >= min_channels() && g.n >= num_threads();
}

void winograd_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw) {
  const Problem p{g.n, g.c, g.h, g.w, g.o, g.oh, g.ow, g.ph, g.pw, g.groups};
  const int64_t cg = g.c / g.groups, og = g.o / g.groups, Ti = tiles_per_image(p);
  const WinoPlane plane{p.H, p.W, p.OH, p.OW, p.ph, p.pw, (p.OH + kM - 1) / kM, (p.OW + kM - 1) / kM};
  const int R = static_cast<int>(std::min<int64_t>(num_threads(), p.n));
  const int64_t per = std::max<int64_t>(1, kWeightChunkTiles / Ti), maxT = per * Ti;
  const size_t m_stride = slice_stride(kXi * p.O * cg), v_stride = slice_stride(kXi * xi_block(cg * maxT)),
               e_stride = slice_stride(kXi * xi_block(og * maxT)), range_stride = m_stride + v_stride + e_stride;
  float* base = workspace(range_stride * static_cast<size_t>(R));
  const WinoTransforms& tf = transforms();

  parallel_tasks(R, [&](int64_t r, int) {
    float* M = base + static_cast<size_t>(r) * range_stride;  // M[ξ][o][c], o over all groups
    float* V = M + m_stride;
    float* E = V + v_stride;
    const int64_t i0 = r * p.n / R, i1 = (r + 1) * p.n / R;
    for (int64_t c0 = i0; c0 < i1; c0 += per) {
      const int64_t c1 = std::min(i1, c0 + per), nt = (c1 - c0) * Ti;
      const int64_t vs = xi_block(cg * nt), es = xi_block(og * nt);  // ξ strides
      for (int64_t gi = 0; gi < p.groups; ++gi) {
        for (int64_t c = 0; c < cg; ++c)
          for (int64_t i = c0; i < c1; ++i) {
            const float* src = x + ((i * p.C) + gi * cg + c) * p.H * p.W;
            prefetch_plane(i + 1 < c1 ? src + p.C * p.H * p.W : src + p.H * p.W - (c1 - 1 - c0) * p.C * p.H * p.W, p.H * p.W);
            tf.input_plane(plane, src, V + c * nt + (i - c0) * Ti, vs);
          }
        for (int64_t o = 0; o < og; ++o)
          for (int64_t i = c0; i < c1; ++i) {
            const float* src = dy + ((i * p.O) + gi * og + o) * p.OH * p.OW;
            prefetch_plane(i + 1 < c1 ? src + p.O * p.OH * p.OW : src + p.OH * p.OW - (c1 - 1 - c0) * p.O * p.OH * p.OW, p.OH * p.OW);
            tf.dy_plane(plane, src, E + o * nt + (i - c0) * Ti, es);
          }
        for (int xi = 0; xi < kXi; ++xi)
          sgemm_serial(false, true, og, cg, nt, 1.f, E + xi * es, nt, V + xi * vs, nt, c0 == i0 ? 0.f : 1.f,
                       M + (xi * p.O + gi * og) * cg, cg);
      }
    }
  });
  // dw[o][c][k] = Σ_r (Gᵀ M_r G)[k], ranges in order
  parallel_for(p.O, [&](int64_t o0, int64_t o1, int) {
    std::vector<float> gk(static_cast<size_t>(9 * cg));
    for (int64_t o = o0; o < o1; ++o) {
      std::fill(gk.begin(), gk.end(), 0.f);
      for (int r = 0; r < R; ++r)
        tf.filter_grad_row(base + static_cast<size_t>(r) * range_stride + o * cg, p.O * cg, cg, gk.data());
      for (int64_t c = 0; c < cg; ++c)
        for (int k = 0; k < 9; ++k) dw[(o * cg + c) * 9 + k] = gk[static_cast<size_t>(k * cg + c)];
    }
  });
}

void conv_trace(const char* direction, const ConvGeom& g, const char* algorithm) {
  static const bool on = std::getenv("CONVNET_CONV_TRACE") != nullptr;
  if (!on) return;
  char line[320];
  std::snprintf(line, sizeof line, "convnet conv: %s c=%lld h=%lld w=%lld o=%lld k=%lldx%lld s=%lldx%lld p=%lldx%lld g=%lld n=%lld -> %s\n",
                direction, (long long)g.c, (long long)g.h, (long long)g.w, (long long)g.o, (long long)g.kh, (long long)g.kw,
                (long long)g.sh, (long long)g.sw, (long long)g.ph, (long long)g.pw, (long long)g.groups, (long long)g.n,
                algorithm);
  static std::mutex mu;
  static std::set<std::string> seen;
  std::lock_guard<std::mutex> lock(mu);
  if (seen.insert(line).second) std::fputs(line, stderr);
}

}  // namespace convnet
