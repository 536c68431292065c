// Winograd F(4×4, 3×3) transforms, L tiles (or channels) at a time so that the compiler vectorises across them;
// included by conv_winograd_avx2.cpp (-mavx2 -mfma, L = 8) and conv_winograd.cpp (baseline, L = 4), each in its own
// namespace CONVNET_WINO_NS (no inline function is shared between translation units built for different ISAs).
// Matrices: Lavin & Gray 2016, points 0, ±1, ±2, ∞; y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A.
#include <algorithm>
#include <cstdint>

#include "conv_winograd.h"

namespace convnet {
namespace CONVNET_WINO_NS {

constexpr int kM = 4, kA = 6, kXi = kA * kA;

// d[6][6][L] → v[36][L] = Bᵀ d B, for L lanes.
template <int L>
inline void input_lanes(const float (*d)[kA][L], float (*v)[L]) {
  float t[kA][kA][L];
  for (int j = 0; j < kA; ++j)
    for (int l = 0; l < L; ++l) {
      const float d0 = d[0][j][l], d1 = d[1][j][l], d2 = d[2][j][l], d3 = d[3][j][l], d4 = d[4][j][l], d5 = d[5][j][l];
      t[0][j][l] = 4 * d0 - 5 * d2 + d4;
      t[1][j][l] = -4 * d1 - 4 * d2 + d3 + d4;
      t[2][j][l] = 4 * d1 - 4 * d2 - d3 + d4;
      t[3][j][l] = -2 * d1 - d2 + 2 * d3 + d4;
      t[4][j][l] = 2 * d1 - d2 - 2 * d3 + d4;
      t[5][j][l] = 4 * d1 - 5 * d3 + d5;
    }
  for (int i = 0; i < kA; ++i)
    for (int l = 0; l < L; ++l) {
      const float d0 = t[i][0][l], d1 = t[i][1][l], d2 = t[i][2][l], d3 = t[i][3][l], d4 = t[i][4][l], d5 = t[i][5][l];
      float(*r)[L] = v + i * kA;
      r[0][l] = 4 * d0 - 5 * d2 + d4;
      r[1][l] = -4 * d1 - 4 * d2 + d3 + d4;
      r[2][l] = 4 * d1 - 4 * d2 - d3 + d4;
      r[3][l] = -2 * d1 - d2 + 2 * d3 + d4;
      r[4][l] = 2 * d1 - d2 - 2 * d3 + d4;
      r[5][l] = 4 * d1 - 5 * d3 + d5;
    }
}

// m[36][L] → y[4][4][L] = Aᵀ m A.
template <int L>
inline void output_lanes(const float (*m)[L], float (*y)[kM][L]) {
  float t[kM][kA][L];
  for (int j = 0; j < kA; ++j)
    for (int l = 0; l < L; ++l) {
      const float m0 = m[j][l], m1 = m[kA + j][l], m2 = m[2 * kA + j][l], m3 = m[3 * kA + j][l], m4 = m[4 * kA + j][l],
                  m5 = m[5 * kA + j][l];
      t[0][j][l] = m0 + m1 + m2 + m3 + m4;
      t[1][j][l] = m1 - m2 + 2 * (m3 - m4);
      t[2][j][l] = m1 + m2 + 4 * (m3 + m4);
      t[3][j][l] = m1 - m2 + 8 * (m3 - m4) + m5;
    }
  for (int i = 0; i < kM; ++i)
    for (int l = 0; l < L; ++l) {
      const float m0 = t[i][0][l], m1 = t[i][1][l], m2 = t[i][2][l], m3 = t[i][3][l], m4 = t[i][4][l], m5 = t[i][5][l];
      y[i][0][l] = m0 + m1 + m2 + m3 + m4;
      y[i][1][l] = m1 - m2 + 2 * (m3 - m4);
      y[i][2][l] = m1 + m2 + 4 * (m3 + m4);
      y[i][3][l] = m1 - m2 + 8 * (m3 - m4) + m5;
    }
}

// g[9][L] (taps ky·3 + kx) → u[36][L] = G g Gᵀ.
template <int L>
inline void filter_lanes(const float (*g)[L], float (*u)[L]) {
  constexpr float k4 = 1.f / 4, k6 = 1.f / 6, k12 = 1.f / 12, k24 = 1.f / 24;
  float t[kA][3][L];
  for (int j = 0; j < 3; ++j)
    for (int l = 0; l < L; ++l) {
      const float g0 = g[j][l], g1 = g[3 + j][l], g2 = g[6 + j][l];
      t[0][j][l] = g0 * k4;
      t[1][j][l] = -(g0 + g1 + g2) * k6;
      t[2][j][l] = -(g0 - g1 + g2) * k6;
      t[3][j][l] = g0 * k24 + g1 * k12 + g2 * k6;
      t[4][j][l] = g0 * k24 - g1 * k12 + g2 * k6;
      t[5][j][l] = g2;
    }
  for (int i = 0; i < kA; ++i)
    for (int l = 0; l < L; ++l) {
      const float g0 = t[i][0][l], g1 = t[i][1][l], g2 = t[i][2][l];
      float(*r)[L] = u + i * kA;
      r[0][l] = g0 * k4;
      r[1][l] = -(g0 + g1 + g2) * k6;
      r[2][l] = -(g0 - g1 + g2) * k6;
      r[3][l] = g0 * k24 + g1 * k12 + g2 * k6;
      r[4][l] = g0 * k24 - g1 * k12 + g2 * k6;
      r[5][l] = g2;
    }
}

// Adjoints for the weight gradient: with y = Aᵀ (U ⊙ V) A and U = G g Gᵀ, dL/dg = Gᵀ [ (A e Aᵀ) ⊙ V ] G for the
// output gradient e of one tile, so the 36 products are summed over tiles (a GEMM per ξ) between the two below.
// e[4][4][L] → E[36][L] = A e Aᵀ.
template <int L>
inline void output_adjoint_lanes(const float (*e)[kM][L], float (*E)[L]) {
  float s[kA][kM][L];
  for (int j = 0; j < kM; ++j)
    for (int l = 0; l < L; ++l) {
      const float e0 = e[0][j][l], e1 = e[1][j][l], e2 = e[2][j][l], e3 = e[3][j][l];
      s[0][j][l] = e0;
      s[1][j][l] = e0 + e1 + e2 + e3;
      s[2][j][l] = e0 - e1 + e2 - e3;
      s[3][j][l] = e0 + 2 * e1 + 4 * e2 + 8 * e3;
      s[4][j][l] = e0 - 2 * e1 + 4 * e2 - 8 * e3;
      s[5][j][l] = e3;
    }
  for (int i = 0; i < kA; ++i)
    for (int l = 0; l < L; ++l) {
      const float e0 = s[i][0][l], e1 = s[i][1][l], e2 = s[i][2][l], e3 = s[i][3][l];
      float(*r)[L] = E + i * kA;
      r[0][l] = e0;
      r[1][l] = e0 + e1 + e2 + e3;
      r[2][l] = e0 - e1 + e2 - e3;
      r[3][l] = e0 + 2 * e1 + 4 * e2 + 8 * e3;
      r[4][l] = e0 - 2 * e1 + 4 * e2 - 8 * e3;
      r[5][l] = e3;
    }
}

// m[36][L] → g[9][L] = Gᵀ m G.
template <int L>
inline void filter_adjoint_lanes(const float (*m)[L], float (*g)[L]) {
  constexpr float k4 = 1.f / 4, k6 = 1.f / 6, k12 = 1.f / 12, k24 = 1.f / 24;
  float r[3][kA][L];
  for (int j = 0; j < kA; ++j)
    for (int l = 0; l < L; ++l) {
      const float m0 = m[j][l], m1 = m[kA + j][l], m2 = m[2 * kA + j][l], m3 = m[3 * kA + j][l], m4 = m[4 * kA + j][l],
                  m5 = m[5 * kA + j][l];
      r[0][j][l] = m0 * k4 - (m1 + m2) * k6 + (m3 + m4) * k24;
      r[1][j][l] = (m2 - m1) * k6 + (m3 - m4) * k12;
      r[2][j][l] = (m3 + m4 - m1 - m2) * k6 + m5;
    }
  for (int a = 0; a < 3; ++a)
    for (int l = 0; l < L; ++l) {
      const float m0 = r[a][0][l], m1 = r[a][1][l], m2 = r[a][2][l], m3 = r[a][3][l], m4 = r[a][4][l], m5 = r[a][5][l];
      g[a * 3 + 0][l] = m0 * k4 - (m1 + m2) * k6 + (m3 + m4) * k24;
      g[a * 3 + 1][l] = (m2 - m1) * k6 + (m3 - m4) * k12;
      g[a * 3 + 2][l] = (m3 + m4 - m1 - m2) * k6 + m5;
    }
}

template <int L>
void input_plane_impl(const WinoPlane& p, const float* plane, float* V, int64_t xi_stride) {
  const int64_t Ti = p.th * p.tw;
  alignas(64) float d[kA][kA][L];
  alignas(64) float v[kXi][L];
  for (int64_t t0 = 0; t0 < Ti; t0 += L) {
    const int64_t cnt = std::min<int64_t>(L, Ti - t0);
    for (int64_t l = 0; l < L; ++l) {
      const int64_t t = t0 + std::min<int64_t>(l, cnt - 1);
      const int64_t y0 = (t / p.tw) * kM - p.ph, x0 = (t % p.tw) * kM - p.pw;
      if (y0 >= 0 && x0 >= 0 && y0 + kA <= p.H && x0 + kA <= p.W) {
        const float* s = plane + y0 * p.W + x0;
        for (int a = 0; a < kA; ++a)
          for (int e = 0; e < kA; ++e) d[a][e][l] = s[a * p.W + e];
      } else {
        for (int a = 0; a < kA; ++a)
          for (int e = 0; e < kA; ++e) {
            const int64_t iy = y0 + a, ix = x0 + e;
            d[a][e][l] = iy >= 0 && iy < p.H && ix >= 0 && ix < p.W ? plane[iy * p.W + ix] : 0.f;
          }
      }
    }
    input_lanes<L>(d, v);
    for (int xi = 0; xi < kXi; ++xi)
      for (int64_t l = 0; l < cnt; ++l) V[xi * xi_stride + t0 + l] = v[xi][l];
  }
}

template <int L>
void output_plane_impl(const WinoPlane& p, const float* M, int64_t xi_stride, float bias, float* plane) {
  const int64_t Ti = p.th * p.tw;
  alignas(64) float m[kXi][L];
  alignas(64) float y[kM][kM][L];
  for (int64_t t0 = 0; t0 < Ti; t0 += L) {
    const int64_t cnt = std::min<int64_t>(L, Ti - t0);
    for (int xi = 0; xi < kXi; ++xi)
      for (int64_t l = 0; l < L; ++l) m[xi][l] = M[xi * xi_stride + t0 + std::min<int64_t>(l, cnt - 1)];
    output_lanes<L>(m, y);
    for (int64_t l = 0; l < cnt; ++l) {
      const int64_t t = t0 + l, oy0 = (t / p.tw) * kM, ox0 = (t % p.tw) * kM;
      const int64_t ny = std::min<int64_t>(kM, p.OH - oy0), nx = std::min<int64_t>(kM, p.OW - ox0);
      for (int64_t a = 0; a < ny; ++a)
        for (int64_t e = 0; e < nx; ++e) plane[(oy0 + a) * p.OW + ox0 + e] = y[a][e][l] + bias;
    }
  }
}

// One image's tiles t of Mᵀ[ξ·xi_stride + t·ld + o] (o < nch, lanes = L channels) → out[o·plane_stride + ...] + bias[o].
template <int L>
void output_tiles_impl(const WinoPlane& p, const float* Mt, int64_t xi_stride, int64_t ld, int64_t nch, const float* bias,
                       float* out, int64_t plane_stride) {
  const int64_t Ti = p.th * p.tw;
  alignas(64) float m[kXi][L];
  alignas(64) float y[kM][kM][L];
  for (int64_t t = 0; t < Ti; ++t) {
    const int64_t oy0 = (t / p.tw) * kM, ox0 = (t % p.tw) * kM;
    const int64_t ny = std::min<int64_t>(kM, p.OH - oy0), nx = std::min<int64_t>(kM, p.OW - ox0);
    for (int64_t o0 = 0; o0 < nch; o0 += L) {
      const int64_t cnt = std::min<int64_t>(L, nch - o0);
      for (int xi = 0; xi < kXi; ++xi)
        for (int64_t l = 0; l < L; ++l) m[xi][l] = Mt[xi * xi_stride + t * ld + o0 + std::min<int64_t>(l, cnt - 1)];
      output_lanes<L>(m, y);
      for (int64_t l = 0; l < cnt; ++l) {
        const float b = bias ? bias[o0 + l] : 0.f;
        float* plane = out + (o0 + l) * plane_stride;
        for (int64_t a = 0; a < ny; ++a)
          for (int64_t e = 0; e < nx; ++e) plane[(oy0 + a) * p.OW + ox0 + e] = y[a][e][l] + b;
      }
    }
  }
}

// g [9][cg] (taps of one output channel, channel-contiguous) → U[ξ·xi_stride + c].
template <int L>
void filter_row_impl(const float* g, int64_t cg, float* U, int64_t xi_stride) {
  alignas(64) float gl[9][L];
  alignas(64) float u[kXi][L];
  for (int64_t c0 = 0; c0 < cg; c0 += L) {
    const int64_t cnt = std::min<int64_t>(L, cg - c0);
    for (int k = 0; k < 9; ++k)
      for (int64_t l = 0; l < L; ++l) gl[k][l] = g[k * cg + c0 + std::min<int64_t>(l, cnt - 1)];
    filter_lanes<L>(gl, u);
    for (int xi = 0; xi < kXi; ++xi)
      for (int64_t l = 0; l < cnt; ++l) U[xi * xi_stride + c0 + l] = u[xi][l];
  }
}

// dy plane (OH×OW, zeros past it) → E[ξ·xi_stride + t] = A e Aᵀ of each 4×4 output tile t.
template <int L>
void dy_plane_impl(const WinoPlane& p, const float* plane, float* E, int64_t xi_stride) {
  const int64_t Ti = p.th * p.tw;
  alignas(64) float e[kM][kM][L];
  alignas(64) float v[kXi][L];
  for (int64_t t0 = 0; t0 < Ti; t0 += L) {
    const int64_t cnt = std::min<int64_t>(L, Ti - t0);
    for (int64_t l = 0; l < L; ++l) {
      const int64_t t = t0 + std::min<int64_t>(l, cnt - 1);
      const int64_t oy0 = (t / p.tw) * kM, ox0 = (t % p.tw) * kM;
      for (int a = 0; a < kM; ++a)
        for (int b = 0; b < kM; ++b) {
          const int64_t oy = oy0 + a, ox = ox0 + b;
          e[a][b][l] = oy < p.OH && ox < p.OW ? plane[oy * p.OW + ox] : 0.f;
        }
    }
    output_adjoint_lanes<L>(e, v);
    for (int xi = 0; xi < kXi; ++xi)
      for (int64_t l = 0; l < cnt; ++l) E[xi * xi_stride + t0 + l] = v[xi][l];
  }
}

// M[ξ·xi_stride + c] (c < cg) → g[k·cg + c] += Gᵀ M G (taps k = ky·3 + kx; channel-contiguous, as filter_row reads).
template <int L>
void filter_grad_row_impl(const float* M, int64_t xi_stride, int64_t cg, float* g) {
  alignas(64) float m[kXi][L];
  alignas(64) float gl[9][L];
  for (int64_t c0 = 0; c0 < cg; c0 += L) {
    const int64_t cnt = std::min<int64_t>(L, cg - c0);
    for (int xi = 0; xi < kXi; ++xi)
      for (int64_t l = 0; l < L; ++l) m[xi][l] = M[xi * xi_stride + c0 + std::min<int64_t>(l, cnt - 1)];
    filter_adjoint_lanes<L>(m, gl);
    for (int k = 0; k < 9; ++k)
      for (int64_t l = 0; l < cnt; ++l) g[k * cg + c0 + l] += gl[k][l];
  }
}

}  // namespace CONVNET_WINO_NS
}  // namespace convnet
