// Convolution as implicit GEMMs per group, on top of the launches in launch.h (the same code drives the CUDA
// kernels and the host emulator): the SGEMM tiles of kernels/sgemm.h with operands gathered from x, dy and the
// weights inside the tile loads (kernels/conv.h), so no column buffer is written and no im2col/col2im pass runs.
//   forward:         y_g[i] = w_g · col_g[i] as an implicit GEMM (kernels/conv.h: the columns are gathered
//                    from x inside the SGEMM's tile loads, never written), one launch per group over all images
//                    (+ bias)
//   backward input:  dx_g[i] = gather(w_g)ᵀ · gather(dy_g[i]) as an implicit GEMM (kernels/conv.h: no columns, no
//                    col2im; each dx element written once)
//   backward weight: dw_g = Σ_i dy_g[i] · col_g[i]ᵀ as an implicit GEMM (kernels/conv.h: col_gᵀ gathered from x
//                    in the tile loads), split over the images (split-K): an og × Kg product has few 128×128
//                    tiles (conv1 of torchvision's net: 64 × 363, 3 tiles; conv2: 26), so the batch is cut into
//                    S contiguous ranges, block z of one launch sums range z in image order into partials[z]
//                    (S × as many blocks: S = ceil(256 / tiles), at most the images), and sum_partials adds the
//                    S partials in split order: no atomics, the same bits on every run. The partials live at the
//                    start of the workspace.
#include <algorithm>

#include "device.h"
#include "launch.h"

namespace convnet::cuda {
namespace {

struct Dims {
  int64_t cg, og, Kg, R, P;  // channels and outputs per group, K of a group, rows of col (all groups), oh·ow
};
Dims dims(const ConvGeom& g) {
  const int64_t cg = g.c / g.groups, og = g.o / g.groups, Kg = cg * g.kh * g.kw;
  return Dims{cg, og, Kg, g.c * g.kh * g.kw, g.oh * g.ow};
}

}  // namespace

// Blocks the weight-gradient launches aim for: 2 per SM of a 132-SM GPU, near enough for smaller ones.
constexpr int64_t kWeightGradBlocks = 256;

int64_t conv_weight_splits(const ConvGeom& g) {
  const Dims d = dims(g);
  if (g.n <= 1 || d.og == 0 || d.Kg == 0) return 1;
  const int64_t tiles = ((d.og + kSgemmBM - 1) / kSgemmBM) * ((d.Kg + kSgemmBN - 1) / kSgemmBN);
  return std::min<int64_t>(std::min<int64_t>(g.n, 65535), std::max<int64_t>(1, (kWeightGradBlocks + tiles - 1) / tiles));
}

namespace {
size_t partial_bytes(const ConvGeom& g) {
  const Dims d = dims(g);
  const int64_t s = conv_weight_splits(g);
  // rounded up to 256 bytes
  return s > 1 ? (static_cast<size_t>(s) * static_cast<size_t>(d.og * d.Kg) * sizeof(float) + 255) / 256 * 256 : 0;
}
}  // namespace

// All three passes are implicit GEMMs: no column buffer, whatever the number of images; only the weight
// gradient's split-K partials.
size_t conv_workspace_bytes(const ConvGeom& g, int64_t images) {
  (void)images;
  return partial_bytes(g);
}

int64_t conv_workspace_images(const ConvGeom& g, size_t ws_bytes) {
  (void)ws_bytes;
  return std::min<int64_t>(g.n, 65535);
}

void conv2d_forward(Stream s, const ConvGeom& g, const float* x, const float* w, const float* b, float* y, void* ws,
                    size_t ws_bytes) {
  const Dims d = dims(g);
  (void)ws;
  (void)ws_bytes;
  if (g.n == 0 || g.o == 0 || d.P == 0) return;
  // the gather's per-thread offsets are 32-bit (kernels/conv.h)
  if (g.h + g.ph > (1 << 29) || g.w + g.pw > (1 << 29) || g.oh * g.sh > (1 << 29) || g.ow * g.sw > (1 << 29))
    throw std::runtime_error("cuda: conv2d: input planes over 2^29 rows or columns are not supported");
  constexpr int64_t kMaxImages = 65535;  // gridDim.z
  for (int64_t i0 = 0; i0 < g.n; i0 += kMaxImages) {
    const int64_t m = std::min(kMaxImages, g.n - i0);
    for (int64_t gr = 0; gr < g.groups; ++gr) {
      SgemmArgs a{};
      a.M = d.og; a.N = d.P; a.K = d.Kg;
      a.A = w + gr * d.og * d.Kg; a.lda = d.Kg;
      a.B = x + i0 * g.c * g.h * g.w;  // gathered: image z at B + z·image_stride
      a.C = y + i0 * g.o * d.P + gr * d.og * d.P; a.ldc = d.P;
      a.alpha = 1.f; a.beta = 0.f;
      a.batch = m; a.strideA = 0; a.strideC = g.o * d.P;
      const ConvGather gather{g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.ow, gr * d.cg, g.c * g.h * g.w};
      conv_forward_implicit(s, a, gather);
    }
  }
  if (b) bias_add(s, g.n, g.o, d.P, y, b, y);
}

void conv2d_backward_input(Stream s, const ConvGeom& g, const float* dy, const float* w, float* dx, void* ws,
                           size_t ws_bytes) {
  const Dims d = dims(g);
  if (g.n == 0 || g.c == 0 || g.h == 0 || g.w == 0) return;
  if (d.P == 0 || g.o == 0) {
    // no output positions or no output channels: nothing reaches dx (with padding, P > 0 while o = 0)
    dev::memset_zero(dx, static_cast<size_t>(g.n * g.c * g.h * g.w) * sizeof(float), s);
    return;
  }
  (void)ws;
  (void)ws_bytes;
  if (g.h + g.ph > (1 << 29) || g.w + g.pw > (1 << 29) || g.oh * g.sh > (1 << 29) || g.ow * g.sw > (1 << 29))
    throw std::runtime_error("cuda: conv2d: input planes over 2^29 rows or columns are not supported");
  constexpr int64_t kMaxImages = 65535;  // gridDim.z
  for (int64_t i0 = 0; i0 < g.n; i0 += kMaxImages) {
    const int64_t m = std::min(kMaxImages, g.n - i0);
    for (int64_t gr = 0; gr < g.groups; ++gr) {
      SgemmArgs a{};
      a.M = d.cg; a.N = g.h * g.w; a.K = d.og * g.kh * g.kw;
      a.A = w + gr * d.og * d.Kg;  // gathered (kernels/conv.h)
      a.B = dy + i0 * g.o * d.P + gr * d.og * d.P;  // gathered, image z at B + z·o·P
      a.C = dx + i0 * g.c * g.h * g.w + gr * d.cg * g.h * g.w; a.ldc = g.h * g.w;
      a.alpha = 1.f; a.beta = 0.f;
      a.batch = m; a.strideC = g.c * g.h * g.w;
      const ConvDgrad dg{g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow, d.cg, g.o * d.P};
      conv_dgrad_implicit(s, a, dg);
    }
  }
}

void conv2d_backward_weight(Stream s, const ConvGeom& g, const float* x, const float* dy, float* dw, void* ws,
                            size_t ws_bytes) {
  const Dims d = dims(g);
  if (g.o == 0 || d.Kg == 0) return;
  if (g.n == 0 || d.P == 0) {  // no terms: dw = 0, written by a GEMM with K = 0
    SgemmArgs a{};
    a.M = g.o; a.N = d.Kg; a.K = 0; a.A = dw; a.lda = 1; a.B = dw; a.ldb = d.Kg; a.C = dw; a.ldc = d.Kg;
    a.alpha = 1.f; a.beta = 0.f; a.batch = 1;
    sgemm(s, a);
    return;
  }
  // the whole batch in one launch per group (gridDim.z = the splits), columns gathered from x: no im2col
  (void)ws_bytes;
  if (g.h + g.ph > (1 << 29) || g.w + g.pw > (1 << 29) || g.oh * g.sh > (1 << 29) || g.ow * g.sw > (1 << 29))
    throw std::runtime_error("cuda: conv2d: input planes over 2^29 rows or columns are not supported");
  float* partials = static_cast<float*>(ws);
  const int64_t splits = conv_weight_splits(g);
  for (int64_t gr = 0; gr < g.groups; ++gr) {
    SgemmArgs a{};
    a.M = d.og; a.N = d.Kg; a.K = d.P;
    a.A = dy + gr * d.og * d.P; a.lda = d.P;
    a.B = x; a.ldb = d.P;  // gathered (kernels/conv.h), image i at x + i·c·h·w
    a.alpha = 1.f;
    a.batch = g.n; a.strideA = g.o * d.P; a.strideB = g.c * g.h * g.w; a.reduce = true;
    const ConvGather gather{g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.ow, gr * d.cg, g.c * g.h * g.w};
    float* dwg = dw + gr * d.og * d.Kg;
    if (splits > 1) {  // partials[z] = Σ over split z's images; then dw_g = Σ_z partials[z], in order
      a.C = partials; a.ldc = d.Kg; a.strideC = d.og * d.Kg; a.beta = 0.f; a.splits = splits;
      conv_wgrad_implicit(s, a, gather);
      sum_partials(s, d.og * d.Kg, splits, partials, dwg, false);
    } else {
      a.C = dwg; a.ldc = d.Kg; a.strideC = 0; a.beta = 0.f;
      conv_wgrad_implicit(s, a, gather);
    }
  }
}

}  // namespace convnet::cuda
