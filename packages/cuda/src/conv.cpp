// Convolution as im2col + GEMM per group, on top of the launches in launch.h (the same code drives the
// CUDA kernels and the host emulator). Images go through the column buffer in chunks as large as the
// workspace allows; within a chunk one batched GEMM per group covers every image (gridDim.z = images).
//   forward:         col = im2col(x);  y_g[i] = w_g · col_g[i]            (+ bias)
//   backward input:  dcol_g[i] = w_gᵀ · dy_g[i];  dx = col2im(dcol)
//   backward weight: dw_g = Σ_i dy_g[i] · col_g[i]ᵀ, split over the images (split-K): an og × Kg product has
//                    few 128×128 tiles (conv1 of torchvision's net: 64 × 363, 3 tiles; conv2: 26), so the images
//                    of a chunk are cut into S contiguous ranges, block z of one launch sums range z in image
//                    order into partials[z] (S × as many blocks: S = ceil(256 / tiles), at most the images), and
//                    sum_partials adds the S partials in split order (then the previous chunks' sum): no atomics,
//                    the same bits on every run. The partials live at the start of the workspace.
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
  // 256-byte aligned, so the columns after them stay aligned for float4 loads
  return s > 1 ? (static_cast<size_t>(s) * static_cast<size_t>(d.og * d.Kg) * sizeof(float) + 255) / 256 * 256 : 0;
}
size_t column_bytes(const ConvGeom& g, int64_t images) {
  const Dims d = dims(g);
  return static_cast<size_t>(images) * static_cast<size_t>(d.R) * static_cast<size_t>(d.P) * sizeof(float);
}
}  // namespace

size_t conv_workspace_bytes(const ConvGeom& g, int64_t images) { return partial_bytes(g) + column_bytes(g, images); }

int64_t conv_workspace_images(const ConvGeom& g, size_t ws_bytes) {
  const size_t one = column_bytes(g, 1), fixed = partial_bytes(g);
  if (one == 0) return g.n;
  const int64_t k = ws_bytes > fixed ? static_cast<int64_t>((ws_bytes - fixed) / one) : 0;
  return std::min<int64_t>(std::max<int64_t>(k, 1), std::min<int64_t>(g.n, 65535));
}

void conv2d_forward(Stream s, const ConvGeom& g, const float* x, const float* w, const float* b, float* y, void* ws,
                    size_t ws_bytes) {
  const Dims d = dims(g);
  if (g.n == 0 || g.o == 0 || d.P == 0) return;
  float* col = reinterpret_cast<float*>(static_cast<char*>(ws) + partial_bytes(g));
  const int64_t chunk = conv_workspace_images(g, ws_bytes);
  for (int64_t i0 = 0; i0 < g.n; i0 += chunk) {
    const int64_t m = std::min(chunk, g.n - i0);
    const float* xi = x + i0 * g.c * g.h * g.w;
    float* yi = y + i0 * g.o * d.P;
    im2col(s, g, m, xi, col);
    for (int64_t gr = 0; gr < g.groups; ++gr) {
      SgemmArgs a{};
      a.M = d.og; a.N = d.P; a.K = d.Kg;
      a.A = w + gr * d.og * d.Kg; a.lda = d.Kg;
      a.B = col + gr * d.Kg * d.P; a.ldb = d.P;
      a.C = yi + gr * d.og * d.P; a.ldc = d.P;
      a.alpha = 1.f; a.beta = 0.f;
      a.batch = m; a.strideA = 0; a.strideB = d.R * d.P; a.strideC = g.o * d.P;
      sgemm(s, a);
    }
  }
  if (b) bias_add(s, g.n, g.o, d.P, y, b, y);
}

void conv2d_backward_input(Stream s, const ConvGeom& g, const float* dy, const float* w, float* dx, void* ws,
                           size_t ws_bytes) {
  const Dims d = dims(g);
  if (g.n == 0 || g.c == 0 || g.h == 0 || g.w == 0) return;
  if (d.P == 0 || g.o == 0) {
    // no output positions or no output channels: nothing reaches dx. (col2im would read columns no GEMM wrote:
    // with padding, P > 0 while o = 0.)
    dev::memset_zero(dx, static_cast<size_t>(g.n * g.c * g.h * g.w) * sizeof(float), s);
    return;
  }
  float* col = reinterpret_cast<float*>(static_cast<char*>(ws) + partial_bytes(g));
  const int64_t chunk = conv_workspace_images(g, ws_bytes);
  for (int64_t i0 = 0; i0 < g.n; i0 += chunk) {
    const int64_t m = std::min(chunk, g.n - i0);
    {
      for (int64_t gr = 0; gr < g.groups; ++gr) {
        SgemmArgs a{};
        a.M = d.Kg; a.N = d.P; a.K = d.og;
        a.A = w + gr * d.og * d.Kg; a.lda = d.Kg; a.transA = true;  // w_g [og, Kg] read as w_gᵀ
        a.B = dy + i0 * g.o * d.P + gr * d.og * d.P; a.ldb = d.P;
        a.C = col + gr * d.Kg * d.P; a.ldc = d.P;
        a.alpha = 1.f; a.beta = 0.f;
        a.batch = m; a.strideA = 0; a.strideB = g.o * d.P; a.strideC = d.R * d.P;
        sgemm(s, a);
      }
    }
    col2im(s, g, m, col, dx + i0 * g.c * g.h * g.w);
  }
}

void conv2d_backward_weight(Stream s, const ConvGeom& g, const float* x, const float* dy, float* dw, void* ws,
                            size_t ws_bytes) {
  const Dims d = dims(g);
  if (g.o == 0 || d.Kg == 0) return;
  float* col = reinterpret_cast<float*>(static_cast<char*>(ws) + partial_bytes(g));
  if (g.n == 0 || d.P == 0) {  // no terms: dw = 0, written by a GEMM with K = 0
    SgemmArgs a{};
    a.M = g.o; a.N = d.Kg; a.K = 0; a.A = dw; a.lda = 1; a.B = dw; a.ldb = d.Kg; a.C = dw; a.ldc = d.Kg;
    a.alpha = 1.f; a.beta = 0.f; a.batch = 1;
    sgemm(s, a);
    return;
  }
  const int64_t chunk = conv_workspace_images(g, ws_bytes);
  float* partials = static_cast<float*>(ws);
  for (int64_t i0 = 0; i0 < g.n; i0 += chunk) {
    const int64_t m = std::min(chunk, g.n - i0);
    const int64_t splits = std::min(conv_weight_splits(g), m);
    im2col(s, g, m, x + i0 * g.c * g.h * g.w, col);
    for (int64_t gr = 0; gr < g.groups; ++gr) {
      SgemmArgs a{};
      a.M = d.og; a.N = d.Kg; a.K = d.P;
      a.A = dy + i0 * g.o * d.P + gr * d.og * d.P; a.lda = d.P;
      a.B = col + gr * d.Kg * d.P; a.ldb = d.P; a.transB = true;  // col_g [Kg, P] read as col_gᵀ
      float* dwg = dw + gr * d.og * d.Kg;
      a.alpha = 1.f;
      a.batch = m; a.strideA = g.o * d.P; a.strideB = d.R * d.P; a.reduce = true;
      if (splits > 1) {  // partials[z] = Σ over split z's images; then dw_g (+)= Σ_z partials[z], in order
        a.C = partials; a.ldc = d.Kg; a.strideC = d.og * d.Kg; a.beta = 0.f; a.splits = splits;
        sgemm(s, a);
        sum_partials(s, d.og * d.Kg, splits, partials, dwg, i0 > 0);
      } else {
        a.C = dwg; a.ldc = d.Kg; a.strideC = 0; a.beta = i0 == 0 ? 0.f : 1.f;
        sgemm(s, a);
      }
    }
  }
}

}  // namespace convnet::cuda
