// Winograd transforms compiled for AVX2 + FMA (8 lanes = 8 tiles); see conv_winograd_kernel.h for the matrices.
//
// The plane transforms (input, output, dy) are written with intrinsics here rather than taken from the portable
// templates: those gather each tile's 6×6 patch element by element into a lane-interleaved array (with a bounds test
// per element on edge tiles: half the tiles of a 28×28 plane) and then load it as vectors, which stalls on
// store-to-load forwarding and made the transforms cost more than the GEMMs they feed on 14×14 / 28×28 planes.
// Here a plane is first copied into a zero-padded, tile-aligned buffer (thread-local; rows ≤ 4·tiles + 4 floats), so
// every tile is interior; a row of 8 tiles' patches is then loaded as 128-bit pieces and transposed in registers
// (lanes = tiles), transformed, and stored as whole 8-float rows of V / E; the output transform loads M rows, and
// transposes back to write each tile's 4×4 block with 128-bit stores (edge tiles through a small copy).
// The arithmetic is that of the portable templates (same combinations; FMA contraction may differ in the last bit).
#define CONVNET_WINO_NS wino_avx2
#include "conv_winograd_kernel.h"

#include <immintrin.h>

#include <vector>

namespace convnet {
namespace wino_avx2 {
namespace {

inline __m256 mask_of(int64_t cnt) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(cnt)), idx));
}

// A per-thread zero-padded copy of a plane: rows_p × ld floats holding rows × cols of the plane at (oy, ox), zeros
// around. The zeros are written when the geometry changes (the buffer is reused for every plane of a layer), then only
// the plane's rows are copied, with inline vector moves (rows of 14-28 floats, too short for memcpy calls to pay).
struct PaddedPlane {
  std::vector<float> buf;
  int64_t key[6] = {-1, -1, -1, -1, -1, -1};

  const float* fill(const float* src, int64_t rows, int64_t cols, int64_t oy, int64_t ox, int64_t rows_p, int64_t ld) {
    const int64_t k[6] = {rows, cols, oy, ox, rows_p, ld};
    if (!std::equal(k, k + 6, key)) {
      buf.assign(static_cast<size_t>(rows_p * ld), 0.f);
      std::copy(k, k + 6, key);
    }
    float* dst = buf.data() + oy * ld + ox;
    for (int64_t r = 0; r < rows; ++r, src += cols, dst += ld) {
      if (cols >= 8) {
        int64_t x = 0;
        for (; x + 8 <= cols; x += 8) _mm256_storeu_ps(dst + x, _mm256_loadu_ps(src + x));
        if (x < cols) _mm256_storeu_ps(dst + cols - 8, _mm256_loadu_ps(src + cols - 8));  // overlapping tail
      } else {
        for (int64_t x = 0; x < cols; ++x) dst[x] = src[x];
      }
    }
    return buf.data();
  }
};
thread_local PaddedPlane input_pad, dy_pad;

inline __m256 pair(const float* lo, const float* hi) {
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(lo)), _mm_loadu_ps(hi), 1);
}

// Rows of 4 floats at p[0..7] → c[e] = (p[l][e])_l for e = 0..3.
inline void transpose_in4(const float* const* p, int64_t off, __m256* c) {
  const __m256 a0 = pair(p[0] + off, p[4] + off), a1 = pair(p[1] + off, p[5] + off), a2 = pair(p[2] + off, p[6] + off),
               a3 = pair(p[3] + off, p[7] + off);
  const __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1), t2 = _mm256_unpacklo_ps(a2, a3),
               t3 = _mm256_unpackhi_ps(a2, a3);
  c[0] = _mm256_shuffle_ps(t0, t2, 0x44);
  c[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
  c[2] = _mm256_shuffle_ps(t1, t3, 0x44);
  c[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}

// The same for 2 floats per row (columns 4, 5 of a 6×6 patch).
inline void transpose_in2(const float* const* p, int64_t off, __m256* c) {
  auto ld2 = [&](int l) { return _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(p[l] + off))); };
  const __m256 a0 = _mm256_insertf128_ps(_mm256_castps128_ps256(ld2(0)), ld2(4), 1),
               a1 = _mm256_insertf128_ps(_mm256_castps128_ps256(ld2(1)), ld2(5), 1),
               a2 = _mm256_insertf128_ps(_mm256_castps128_ps256(ld2(2)), ld2(6), 1),
               a3 = _mm256_insertf128_ps(_mm256_castps128_ps256(ld2(3)), ld2(7), 1);
  const __m256 t0 = _mm256_unpacklo_ps(a0, a1), t2 = _mm256_unpacklo_ps(a2, a3);
  c[0] = _mm256_shuffle_ps(t0, t2, 0x44);
  c[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
}

inline void store_row(float* dst, __m256 v, int64_t cnt, __m256 mask) {
  if (cnt == 8)
    _mm256_storeu_ps(dst, v);
  else
    _mm256_maskstore_ps(dst, _mm256_castps_si256(mask), v);
}

// Bᵀ x over 6 values (a row or a column of the patch).
inline void bt6(const __m256* d, __m256* r) {
  const __m256 k4 = _mm256_set1_ps(4.f), k5 = _mm256_set1_ps(5.f), k2 = _mm256_set1_ps(2.f);
  r[0] = _mm256_fmadd_ps(k4, d[0], _mm256_fnmadd_ps(k5, d[2], d[4]));
  const __m256 s12 = _mm256_add_ps(d[1], d[2]), s34 = _mm256_add_ps(d[3], d[4]);
  r[1] = _mm256_fnmadd_ps(k4, s12, s34);
  const __m256 d12 = _mm256_sub_ps(d[1], d[2]), d43 = _mm256_sub_ps(d[4], d[3]);
  r[2] = _mm256_fmadd_ps(k4, d12, d43);
  const __m256 d31 = _mm256_sub_ps(d[3], d[1]), d42 = _mm256_sub_ps(d[4], d[2]);
  r[3] = _mm256_fmadd_ps(k2, d31, d42);
  r[4] = _mm256_fnmadd_ps(k2, d31, d42);
  r[5] = _mm256_fmadd_ps(k4, d[1], _mm256_fnmadd_ps(k5, d[3], d[5]));
}

// Aᵀ x over 6 values → 4.
inline void at6(const __m256* m, __m256* r) {
  const __m256 k2 = _mm256_set1_ps(2.f), k4 = _mm256_set1_ps(4.f), k8 = _mm256_set1_ps(8.f);
  const __m256 p12 = _mm256_add_ps(m[1], m[2]), q12 = _mm256_sub_ps(m[1], m[2]);
  const __m256 p34 = _mm256_add_ps(m[3], m[4]), q34 = _mm256_sub_ps(m[3], m[4]);
  r[0] = _mm256_add_ps(_mm256_add_ps(m[0], p12), p34);
  r[1] = _mm256_fmadd_ps(k2, q34, q12);
  r[2] = _mm256_fmadd_ps(k4, p34, p12);
  r[3] = _mm256_add_ps(_mm256_fmadd_ps(k8, q34, q12), m[5]);
}

// A x over 4 values → 6 (the output transform's adjoint).
inline void a4(const __m256* e, __m256* r) {
  const __m256 k2 = _mm256_set1_ps(2.f), k4 = _mm256_set1_ps(4.f), k8 = _mm256_set1_ps(8.f);
  const __m256 p02 = _mm256_add_ps(e[0], e[2]), p13 = _mm256_add_ps(e[1], e[3]);
  r[0] = e[0];
  r[1] = _mm256_add_ps(p02, p13);
  r[2] = _mm256_sub_ps(p02, p13);
  const __m256 a = _mm256_fmadd_ps(k4, e[2], e[0]), b = _mm256_fmadd_ps(k8, e[3], _mm256_mul_ps(k2, e[1]));
  r[3] = _mm256_add_ps(a, b);
  r[4] = _mm256_sub_ps(a, b);
  r[5] = e[3];
}

// Offsets (row stride ld) of the top-left corners of tiles t0 .. t0+7 (tiles past the plane repeat the last one).
inline void tile_offsets(int64_t t0, int64_t cnt, int64_t tw, int64_t ld, int64_t* off) {
  int64_t ty = t0 / tw, tx = t0 - ty * tw;
  for (int l = 0; l < 8; ++l) {
    off[l] = ty * kM * ld + tx * kM;
    if (l + 1 < cnt && ++tx == tw) tx = 0, ++ty;
  }
}
inline void tile_ptrs(const float* base, int64_t t0, int64_t cnt, int64_t tw, int64_t ld, const float** p) {
  int64_t off[8];
  tile_offsets(t0, cnt, tw, ld, off);
  for (int l = 0; l < 8; ++l) p[l] = base + off[l];
}

void input_plane(const WinoPlane& pl, const float* plane, float* V, int64_t xi_stride) {
  const int64_t Ti = pl.th * pl.tw, rows_p = pl.th * kM + 2, ld = pl.tw * kM + 4;
  const float* buf = input_pad.fill(plane, pl.H, pl.W, pl.ph, pl.pw, rows_p, ld);
  alignas(32) __m256 d[kA][kA];  // d[a][e]: the 6×6 patches, lanes = tiles
  const float* p[8];
  for (int64_t t0 = 0; t0 < Ti; t0 += 8) {
    const int64_t cnt = std::min<int64_t>(8, Ti - t0);
    tile_ptrs(buf, t0, cnt, pl.tw, ld, p);
    for (int a = 0; a < kA; ++a) {
      transpose_in4(p, a * ld, d[a]);
      transpose_in2(p, a * ld + 4, d[a] + 4);
    }
    // Bᵀ over the rows first, then over the columns (the portable templates' order)
    alignas(32) __m256 t[kA][kA];
    for (int e = 0; e < kA; ++e) {
      const __m256 col[kA] = {d[0][e], d[1][e], d[2][e], d[3][e], d[4][e], d[5][e]};
      __m256 r[kA];
      bt6(col, r);
      for (int i = 0; i < kA; ++i) t[i][e] = r[i];
    }
    const __m256 mask = mask_of(cnt);
    for (int i = 0; i < kA; ++i) {
      __m256 r[kA];
      bt6(t[i], r);
      for (int j = 0; j < kA; ++j) store_row(V + (i * kA + j) * xi_stride + t0, r[j], cnt, mask);
    }
  }
}

void dy_plane(const WinoPlane& pl, const float* plane, float* E, int64_t xi_stride) {
  const int64_t Ti = pl.th * pl.tw;
  const float* src = plane;
  int64_t ld = pl.OW;
  if (pl.OH != pl.th * kM || pl.OW != pl.tw * kM) {  // zeros past the output
    ld = pl.tw * kM;
    src = dy_pad.fill(plane, pl.OH, pl.OW, 0, 0, pl.th * kM, ld);
  }
  alignas(32) __m256 s[kM][kA];  // e Aᵀ per tile row
  const float* p[8];
  for (int64_t t0 = 0; t0 < Ti; t0 += 8) {
    const int64_t cnt = std::min<int64_t>(8, Ti - t0);
    tile_ptrs(src, t0, cnt, pl.tw, ld, p);
    for (int a = 0; a < kM; ++a) {
      __m256 e[kM];
      transpose_in4(p, a * ld, e);
      a4(e, s[a]);
    }
    const __m256 mask = mask_of(cnt);
    for (int j = 0; j < kA; ++j) {
      const __m256 col[kM] = {s[0][j], s[1][j], s[2][j], s[3][j]};
      __m256 r[kA];
      a4(col, r);
      for (int i = 0; i < kA; ++i) store_row(E + (i * kA + j) * xi_stride + t0, r[i], cnt, mask);
    }
  }
}

// y = Aᵀ m A + b for 8 lanes: m[ξ] at base + ξ·xi_stride (the first cnt lanes; the rest masked off).
inline void output_transform(const float* base, int64_t xi_stride, int64_t cnt, __m256i imask, __m256 vb,
                             __m256 y[kM][kM]) {
  alignas(32) __m256 t[kA][kM];  // m A per row i of the 6×6
  for (int i = 0; i < kA; ++i) {
    __m256 m[kA];
    for (int j = 0; j < kA; ++j) {
      const float* src = base + (i * kA + j) * xi_stride;
      m[j] = cnt == 8 ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, imask);
    }
    at6(m, t[i]);
  }
  for (int e = 0; e < kM; ++e) {
    const __m256 col[kA] = {t[0][e], t[1][e], t[2][e], t[3][e], t[4][e], t[5][e]};
    __m256 r[kM];
    at6(col, r);
    for (int a = 0; a < kM; ++a) y[a][e] = _mm256_add_ps(r[a], vb);
  }
}

// One output row's 4 values per lane: lane l's row is the low (l < 4) or high (l >= 4) half of u[l % 4].
inline void lane_rows(const __m256* ya, __m256* u) {
  const __m256 t0v = _mm256_unpacklo_ps(ya[0], ya[1]), t1v = _mm256_unpackhi_ps(ya[0], ya[1]),
               t2v = _mm256_unpacklo_ps(ya[2], ya[3]), t3v = _mm256_unpackhi_ps(ya[2], ya[3]);
  u[0] = _mm256_shuffle_ps(t0v, t2v, 0x44), u[1] = _mm256_shuffle_ps(t0v, t2v, 0xEE);
  u[2] = _mm256_shuffle_ps(t1v, t3v, 0x44), u[3] = _mm256_shuffle_ps(t1v, t3v, 0xEE);
}

// Stores the first nx (1..4) values of row.
inline void store_first(float* d, __m128 row, int64_t nx) {
  if (nx == kM) {
    _mm_storeu_ps(d, row);
  } else if (nx == 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(d), row);
  } else if (nx == 1) {
    _mm_store_ss(d, row);
  } else {
    _mm_storel_pi(reinterpret_cast<__m64*>(d), row);
    _mm_store_ss(d + 2, _mm_movehl_ps(row, row));
  }
}

void output_plane(const WinoPlane& pl, const float* M, int64_t xi_stride, float bias, float* plane) {
  const int64_t Ti = pl.th * pl.tw;
  const __m256 vb = _mm256_set1_ps(bias);
  for (int64_t t0 = 0; t0 < Ti; t0 += 8) {
    const int64_t cnt = std::min<int64_t>(8, Ti - t0);
    const __m256 mask = mask_of(cnt);
    const __m256i imask = _mm256_castps_si256(mask);
    __m256 y[kM][kM];  // y[a][e], lanes = tiles
    output_transform(M + t0, xi_stride, cnt, imask, vb, y);
    int64_t ty[8], tx[8];  // output row and column of each lane's tile
    for (int64_t l = 0, y = t0 / pl.tw, x = t0 - y * pl.tw; l < cnt; ++l) {
      ty[l] = y * kM, tx[l] = x * kM;
      if (++x == pl.tw) x = 0, ++y;
    }
    for (int a = 0; a < kM; ++a) {
      __m256 u[4];
      lane_rows(y[a], u);
      for (int64_t l = 0; l < cnt; ++l) {
        const __m128 row = l < 4 ? _mm256_castps256_ps128(u[l]) : _mm256_extractf128_ps(u[l - 4], 1);
        const int64_t oy = ty[l] + a;
        if (oy >= pl.OH) continue;
        float* dst = plane + oy * pl.OW + tx[l];
        const int64_t nx = std::min<int64_t>(kM, pl.OW - tx[l]);
        store_first(dst, row, nx);
      }
    }
  }
}

// Lanes = 8 output channels of one tile: Mᵀ rows are contiguous over channels (the GEMM computes Mᵀ = Vᵀ Uᵀ, whose
// N = og fills whole 16-column micro-tiles), 36 loads per 8 channels; each channel's 4×4 block is written with
// 128-bit row stores after an in-register transpose.
void output_tiles(const WinoPlane& pl, const float* Mt, int64_t xi_stride, int64_t ld, int64_t nch, const float* bias,
                  float* out, int64_t plane_stride) {
  const int64_t Ti = pl.th * pl.tw;
  int64_t ty = 0, tx = 0;
  for (int64_t tt = 0; tt < Ti; ++tt) {
    const int64_t oy0 = ty * kM, ox0 = tx * kM;
    const int64_t ny = std::min<int64_t>(kM, pl.OH - oy0), nx = std::min<int64_t>(kM, pl.OW - ox0);
    const float* mt = Mt + tt * ld;
    for (int64_t o0 = 0; o0 < nch; o0 += 8) {
      const int64_t cnt = std::min<int64_t>(8, nch - o0);
      const __m256i imask = _mm256_castps_si256(mask_of(cnt));
      const __m256 vb = !bias ? _mm256_setzero_ps() : cnt == 8 ? _mm256_loadu_ps(bias + o0) : _mm256_maskload_ps(bias + o0, imask);
      __m256 y[kM][kM];  // y[a][e], lanes = channels
      output_transform(mt + o0, xi_stride, cnt, imask, vb, y);
      float* dst0 = out + o0 * plane_stride + oy0 * pl.OW + ox0;
      for (int a = 0; a < ny; ++a) {
        __m256 u[4];
        lane_rows(y[a], u);
        float* dst = dst0 + a * pl.OW;
        if (nx == kM && cnt == 8) {
          for (int l = 0; l < 4; ++l) {
            _mm_storeu_ps(dst + l * plane_stride, _mm256_castps256_ps128(u[l]));
            _mm_storeu_ps(dst + (l + 4) * plane_stride, _mm256_extractf128_ps(u[l], 1));
          }
          continue;
        }
        for (int64_t l = 0; l < cnt; ++l) {
          const __m128 row = l < 4 ? _mm256_castps256_ps128(u[l]) : _mm256_extractf128_ps(u[l - 4], 1);
          float* d = dst + l * plane_stride;
          store_first(d, row, nx);
        }
      }
    }
    if (++tx == pl.tw) tx = 0, ++ty;
  }
}

}  // namespace
}  // namespace wino_avx2

const WinoTransforms& wino_transforms_avx2() {
  static const WinoTransforms t{"avx2", wino_avx2::input_plane, wino_avx2::output_plane, wino_avx2::output_tiles,
                                wino_avx2::filter_row_impl<8>, wino_avx2::dy_plane,
                                wino_avx2::filter_grad_row_impl<8>};
  return t;
}
}  // namespace convnet
