// Forward convolution as an implicit GEMM: y_g[i] = w_g · col_g[i] with the columns never written to memory.
// The SGEMM of kernels/sgemm.h (128×128 tiles, 8×8 per thread, double-buffered shared memory, the same
// stash/compute/store phases) with one change: the B tile is gathered from x while it is loaded.
//   B(k, n) = x[i, gr·cg + c, oh·sh − ph + r, ow·sw − pw + s],  k = (c, r, s) of the group's Kg, n = (oh, ow)
// Index arithmetic is hoisted out of the inner loop: a thread's 4 output positions n are fixed for the whole block,
// so their (oh·sh − ph, ow·sw − pw) are computed once (conv_gather_init, 2 divisions each); its k changes per k
// tile, so (c, r, s) costs 2 divisions per tile; each element is then two adds, a bounds test and a load.
// Expected speed: the SGEMM's (kernels/sgemm.h) minus the gather: B loads are scalar and, for stride > 1, spread
// over sw·4 bytes per thread, served from L1/L2 (x of one image is 0.6 MB for conv1, 0.2 MB for conv2), so conv2-5
// (Kg = 1600-3456) should run near the SGEMM rate and conv1 (Kg = 363, K tiles 46) lower; no im2col pass (the
// old path wrote and re-read P·Kg floats per image: 3× the input for conv1) and no column buffer.
#pragma once
#include <cstdint>

#include "convnet/hd.h"
#include "sgemm.h"

namespace convnet::cuda {

struct ConvGather {
  int64_t h, w, kh, kw, sh, sw, ph, pw, ow;  // input plane, window, stride, padding, output width
  int64_t c_off;                             // first input channel of the group
  int64_t image_stride;                      // c·h·w: elements per image of x
};

// 32-bit (planes and windows are far below 2^31; this keeps the kernel within 128 registers without spills):
// oh·sh − ph and ow·sw − pw of the thread's 4 output positions; −2^30 for a position past P (never in bounds)
struct ConvGatherCtx {
  int32_t ih0[4], iw0[4];
};
constexpr int32_t kConvOutside = -(1 << 30);

CONVNET_HD void conv_gather_init(const SgemmArgs& p, const ConvGather& g, int tid, int64_t n0, ConvGatherCtx& c) {
  for (int j = 0; j < 4; ++j) {
    const int64_t n = n0 + 4 * (tid % 32) + j;
    const bool ok = n < p.N;
    const int64_t oh = ok ? n / g.ow : 0, ow = ok ? n % g.ow : 0;
    c.ih0[j] = ok ? static_cast<int32_t>(oh * g.sh - g.ph) : kConvOutside;
    c.iw0[j] = static_cast<int32_t>(ow * g.sw - g.pw);
  }
}

// sgemm_fetch for A = the group's weights [og, Kg] (row-major, float4 where aligned) and B gathered from image X.
CONVNET_HD void conv_fetch(const SgemmArgs& p, const ConvGather& g, const ConvGatherCtx& c, int tid, int64_t m0,
                           int64_t k0, const float* X, SgemmRegs& r) {
  {
    const int64_t m = m0 + tid / 2, k = k0 + 4 * (tid % 2);
    if (m < p.M) sgemm_load4(p.A + m * p.lda + k, k, p.K, p.vecA, r.a);
    else r.a[0] = r.a[1] = r.a[2] = r.a[3] = 0.f;
  }
  const int64_t k = k0 + tid / 32;
  if (k >= p.K) {
    r.b[0] = r.b[1] = r.b[2] = r.b[3] = 0.f;
    return;
  }
  const int64_t win = g.kh * g.kw, ch = k / win, rs = k - ch * win;
  const int32_t rr = static_cast<int32_t>(rs / g.kw), ss = static_cast<int32_t>(rs - rr * g.kw);
  const int32_t h = static_cast<int32_t>(g.h), w = static_cast<int32_t>(g.w);
  const float* plane = X + (g.c_off + ch) * g.h * g.w;
  for (int j = 0; j < 4; ++j) {
    const int32_t ih = c.ih0[j] + rr, iw = c.iw0[j] + ss;
    r.b[j] = ih >= 0 && ih < h && iw >= 0 && iw < w ? plane[static_cast<int64_t>(ih) * w + iw] : 0.f;
  }
}

// The weight gradient as an implicit GEMM: dw_g = Σ_i dy_g[i] · col_g[i]ᵀ, M = og, N = Kg, K = P (positions),
// A = dy (lda = P, one image per item), B = col_gᵀ gathered (the transB layout of sgemm_fetch: a thread's column
// n = (c, r, s) is fixed for the block, so it is decomposed once; its 4 positions per k tile are consecutive, one
// division for the first and a carry for the rest). Items are the images, summed in order, split over the batch
// as sgemm_walk does (partials summed by conv.cpp in split order).
struct ConvWgradCtx {
  int64_t plane;   // offset of the input plane (c_off + c)·h·w of the thread's column n
  int32_t r, s;    // the column's window row and column
  bool ok;         // n < N
};

CONVNET_HD void conv_wgrad_init(const SgemmArgs& p, const ConvGather& g, int tid, int64_t n0, ConvWgradCtx& c) {
  const int64_t n = n0 + tid / 2, win = g.kh * g.kw;
  c.ok = n < p.N;
  const int64_t ch = c.ok ? n / win : 0, rs = c.ok ? n - ch * win : 0;
  c.r = static_cast<int32_t>(rs / g.kw);
  c.s = static_cast<int32_t>(rs - c.r * g.kw);
  c.plane = (g.c_off + ch) * g.h * g.w;
}

CONVNET_HD void conv_wgrad_fetch(const SgemmArgs& p, const ConvGather& g, const ConvWgradCtx& c, int tid, int64_t m0,
                                 int64_t k0, const float* A, const float* X, SgemmRegs& r) {
  {
    const int64_t m = m0 + tid / 2, k = k0 + 4 * (tid % 2);
    if (m < p.M) sgemm_load4(A + m * p.lda + k, k, p.K, p.vecA, r.a);
    else r.a[0] = r.a[1] = r.a[2] = r.a[3] = 0.f;
  }
  const int64_t k = k0 + 4 * (tid % 2);
  if (!c.ok || k >= p.K) {
    r.b[0] = r.b[1] = r.b[2] = r.b[3] = 0.f;
    return;
  }
  int32_t oh = static_cast<int32_t>(k / g.ow), ow = static_cast<int32_t>(k - static_cast<int64_t>(oh) * g.ow);
  const int32_t h = static_cast<int32_t>(g.h), w = static_cast<int32_t>(g.w), ow_n = static_cast<int32_t>(g.ow);
  const float* plane = X + c.plane;
  for (int j = 0; j < 4; ++j) {
    const int32_t ih = oh * static_cast<int32_t>(g.sh) - static_cast<int32_t>(g.ph) + c.r;
    const int32_t iw = ow * static_cast<int32_t>(g.sw) - static_cast<int32_t>(g.pw) + c.s;
    r.b[j] = k + j < p.K && ih >= 0 && ih < h && iw >= 0 && iw < w ? plane[static_cast<int64_t>(ih) * w + iw] : 0.f;
    if (++ow == ow_n) {
      ow = 0;
      ++oh;
    }
  }
}

// The input gradient as an implicit GEMM (no columns, no col2im): for one group and image,
//   dx_g[c, ih, iw] = Σ_{o, r, s} w[o, c, r, s] · dy_g[o, (ih + ph − r)/sh, (iw + pw − s)/sw]
// over the (o, r, s) whose quotients are whole and inside dy. M = cg, N = h·w, K = og·kh·kw; A(c, (o, r, s)) is
// gathered from the weights (a thread's c is fixed for the block: c·kh·kw hoisted; its 4 consecutive k per tile
// decomposed once, then carried), B((o, r, s), (ih, iw)) from dy (a thread's 4 positions are fixed for the block:
// ih + ph, iw + pw hoisted; its k decomposed once per tile). Every dx element is written once, with beta = 0.
struct ConvDgrad {
  int64_t h, w, kh, kw, sh, sw, ph, pw, oh, ow;  // input plane, window, stride, padding, output plane
  int64_t cg;                                    // input channels per group
  int64_t dy_image_stride;                       // o·oh·ow: elements per image of dy
};
struct ConvDgradCtx {
  int64_t cwin;         // c·kh·kw of the thread's row (A)
  int32_t ihp[4], iwp[4];  // ih + ph, iw + pw of its 4 positions (B); −2^30 past N
};

CONVNET_HD void conv_dgrad_init(const SgemmArgs& p, const ConvDgrad& g, int tid, int64_t m0, int64_t n0,
                                ConvDgradCtx& c) {
  c.cwin = (m0 + tid / 2) * g.kh * g.kw;
  for (int j = 0; j < 4; ++j) {
    const int64_t n = n0 + 4 * (tid % 32) + j;
    const bool ok = n < p.N;
    const int64_t ih = ok ? n / g.w : 0, iw = ok ? n % g.w : 0;
    c.ihp[j] = ok ? static_cast<int32_t>(ih + g.ph) : kConvOutside;
    c.iwp[j] = static_cast<int32_t>(iw + g.pw);
  }
}

CONVNET_HD void conv_dgrad_fetch(const SgemmArgs& p, const ConvDgrad& g, const ConvDgradCtx& c, int tid, int64_t m0,
                                 int64_t k0, const float* DY, SgemmRegs& r) {
  const int64_t win = g.kh * g.kw;
  {
    const int64_t m = m0 + tid / 2, k = k0 + 4 * (tid % 2);
    int64_t o = k / win, rs = k - o * win;
    for (int j = 0; j < 4; ++j) {
      r.a[j] = m < p.M && k + j < p.K ? p.A[o * g.cg * win + c.cwin + rs] : 0.f;
      if (++rs == win) {
        rs = 0;
        ++o;
      }
    }
  }
  const int64_t k = k0 + tid / 32;
  if (k >= p.K) {
    r.b[0] = r.b[1] = r.b[2] = r.b[3] = 0.f;
    return;
  }
  const int64_t o = k / win, rs = k - o * win;
  const int32_t rr = static_cast<int32_t>(rs / g.kw), ss = static_cast<int32_t>(rs - rr * g.kw);
  const int32_t sh = static_cast<int32_t>(g.sh), sw = static_cast<int32_t>(g.sw);
  const int32_t oh_n = static_cast<int32_t>(g.oh), ow_n = static_cast<int32_t>(g.ow);
  const float* plane = DY + o * g.oh * g.ow;
  for (int j = 0; j < 4; ++j) {
    const int32_t th = c.ihp[j] - rr, tw = c.iwp[j] - ss;
    float v = 0.f;
    if (th >= 0 && tw >= 0 && th % sh == 0 && tw % sw == 0) {
      const int32_t oy = th / sh, ox = tw / sw;
      if (oy < oh_n && ox < ow_n) v = plane[static_cast<int64_t>(oy) * ow_n + ox];
    }
    r.b[j] = v;
  }
}

}  // namespace convnet::cuda
