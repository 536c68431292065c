// Max / average / adaptive-average pooling; parallel over (image, channel) planes.
#include <cmath>
#include <cstring>
#include <vector>
#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define CONVNET_POOL_SSE2 1
#endif

#include "convnet/kernels.h"
#include "convnet/threadpool.h"
#include "workspace.h"

namespace convnet {

namespace {

// Window bounds per output row/column, clipped to the input, computed once per call.
struct Ranges {
  std::vector<int32_t> y0, y1, x0, x1;
  explicit Ranges(const PoolGeom& g) : y0(g.oh), y1(g.oh), x0(g.ow), x1(g.ow) {
    for (int64_t o = 0; o < g.oh; ++o) {
      int64_t a = o * g.sh - g.ph;
      y0[o] = static_cast<int32_t>(a < 0 ? 0 : a);
      y1[o] = static_cast<int32_t>(a + g.kh < g.h ? a + g.kh : g.h);
    }
    for (int64_t o = 0; o < g.ow; ++o) {
      int64_t a = o * g.sw - g.pw;
      x0[o] = static_cast<int32_t>(a < 0 ? 0 : a);
      x1[o] = static_cast<int32_t>(a + g.kw < g.w ? a + g.kw : g.w);
    }
  }
};

// Max pooling is separable: a window's maximum is the maximum over its columns of each column's maximum
// over the window's rows. So for each output row, one pass down the window's rows (contiguous, vectorised)
// gives every column's maximum, and a short pass along each output's columns finishes it: about kh + kw
// operations per output instead of kh·kw. Planes are first checked for NaN (one vectorised pass): planes
// without one use plain, branch-free maxima; the rare planes with one use the NaN rule (NaN wins, and the
// first NaN in scan order is the argmax), whose data-dependent branches are slow on random data.
inline float max_nan(float m, float v) { return (v > m) | (v != v) ? v : m; }

// Column maxima of rows [y0, y1) of a plane [., w]: col[ix] = max over iy of plane[iy, ix].
inline void column_max(const float* plane, int64_t w, int32_t y0, int32_t y1, float* col) {
  const float* r0 = plane + y0 * w;
  for (int64_t ix = 0; ix < w; ++ix) col[ix] = r0[ix];
  for (int32_t iy = y0 + 1; iy < y1; ++iy) {
    const float* row = plane + iy * w;
    for (int64_t ix = 0; ix < w; ++ix) col[ix] = max_nan(col[ix], row[ix]);
  }
}

// For planes without NaN, the backward pass's "first maximum in scan order" as one integer maximum: the key
// of (value, row) orders by value, then earlier row, so a strict maximum over a window's columns taken
// left to right lands on the first maximum in scan order. Integer compares compile to cmov: no
// data-dependent branches (ties are common after ReLU, and random values mispredict a third of them).
inline int64_t scan_key(float v, int32_t iy) {
  const float z = v + 0.f;  // −0 → +0: equal values must tie
  int32_t bits;
  std::memcpy(&bits, &z, sizeof bits);
  const int32_t ordered = bits ^ ((bits >> 31) & INT32_MAX);  // float order as int order, branch-free
  return static_cast<int64_t>(ordered) * (INT64_C(1) << 32) + (INT32_MAX - iy);
}
inline int32_t key_row(int64_t key) { return INT32_MAX - static_cast<int32_t>(static_cast<uint64_t>(key) & 0xffffffffu); }

// key[ix] = the largest scan_key over rows [y0, y1) of column ix.
inline void column_keys(const float* plane, int64_t w, int32_t y0, int32_t y1, int64_t* key) {
  const float* r0 = plane + y0 * w;
  for (int64_t ix = 0; ix < w; ++ix) key[ix] = scan_key(r0[ix], y0);
  for (int32_t iy = y0 + 1; iy < y1; ++iy) {
    const float* row = plane + iy * w;
    for (int64_t ix = 0; ix < w; ++ix) {
      const int64_t k = scan_key(row[ix], iy);
      key[ix] = k > key[ix] ? k : key[ix];
    }
  }
}

bool has_nan(const float* p, int64_t len) {
  int32_t nan = 0;
  for (int64_t i = 0; i < len; ++i) nan |= -static_cast<int32_t>(p[i] != p[i]);  // vectorises
  return nan != 0;
}

// 2×2 windows at stride 2 without padding, all inside the input (VGG-style pooling): windows do not overlap, so
// the backward pass writes each input once (no zeroing pass, no accumulation) and neither pass needs the separable
// column pass. Same results as the general loops, bit for bit (strict "later wins only if greater" maxima, the first
// maximum in scan order a, b, c, d, and +0 for −0 gradients, as 0 + d gives). Planes without NaN only.
bool pool_2x2s2(const PoolGeom& g) {
  return g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0 && g.oh == g.h / 2 && g.ow == g.w / 2;
}

void max_pool_2x2s2_forward(const PoolGeom& g, const float* plane, float* out) {
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    const float* r0 = plane + 2 * oy * g.w;
    const float* r1 = r0 + g.w;
    float* o = out + oy * g.ow;
    int64_t ox = 0;
#ifdef CONVNET_POOL_SSE2
    for (; ox + 4 <= g.ow; ox += 4) {
      const __m128 p0 = _mm_loadu_ps(r0 + 2 * ox), p1 = _mm_loadu_ps(r0 + 2 * ox + 4);
      const __m128 q0 = _mm_loadu_ps(r1 + 2 * ox), q1 = _mm_loadu_ps(r1 + 2 * ox + 4);
      const __m128 a = _mm_shuffle_ps(p0, p1, _MM_SHUFFLE(2, 0, 2, 0)), b = _mm_shuffle_ps(p0, p1, _MM_SHUFFLE(3, 1, 3, 1));
      const __m128 c = _mm_shuffle_ps(q0, q1, _MM_SHUFFLE(2, 0, 2, 0)), d = _mm_shuffle_ps(q0, q1, _MM_SHUFFLE(3, 1, 3, 1));
      // max_ps(x, y) = x > y ? x : y: the lower row, then the right column, win only when greater
      _mm_storeu_ps(o + ox, _mm_max_ps(_mm_max_ps(d, b), _mm_max_ps(c, a)));
    }
#endif
    for (; ox < g.ow; ++ox) {
      const float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
      const float left = c > a ? c : a, right = d > b ? d : b;
      o[ox] = right > left ? right : left;
    }
  }
}

void max_pool_2x2s2_backward(const PoolGeom& g, const float* plane, const float* dy, float* out) {
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    const float* r0 = plane + 2 * oy * g.w;
    const float* r1 = r0 + g.w;
    const float* d = dy + oy * g.ow;
    float* o0 = out + 2 * oy * g.w;
    float* o1 = o0 + g.w;
    int64_t ox = 0;
#ifdef CONVNET_POOL_SSE2
    const __m128 zero = _mm_setzero_ps();
    for (; ox + 4 <= g.ow; ox += 4) {
      const __m128 p0 = _mm_loadu_ps(r0 + 2 * ox), p1 = _mm_loadu_ps(r0 + 2 * ox + 4);
      const __m128 q0 = _mm_loadu_ps(r1 + 2 * ox), q1 = _mm_loadu_ps(r1 + 2 * ox + 4);
      const __m128 a = _mm_shuffle_ps(p0, p1, _MM_SHUFFLE(2, 0, 2, 0)), b = _mm_shuffle_ps(p0, p1, _MM_SHUFFLE(3, 1, 3, 1));
      const __m128 c = _mm_shuffle_ps(q0, q1, _MM_SHUFFLE(2, 0, 2, 0)), e = _mm_shuffle_ps(q0, q1, _MM_SHUFFLE(3, 1, 3, 1));
      const __m128 sb = _mm_cmpgt_ps(b, a), m1 = _mm_max_ps(b, a);
      const __m128 sc = _mm_cmpgt_ps(c, m1), m2 = _mm_max_ps(c, m1);
      const __m128 se = _mm_cmpgt_ps(e, m2);
      const __m128 gv = _mm_add_ps(_mm_loadu_ps(d + ox), zero);  // −0 → +0
      const __m128 ge = _mm_and_ps(se, gv), ne = _mm_andnot_ps(se, gv);
      const __m128 gc = _mm_and_ps(sc, ne), nc = _mm_andnot_ps(sc, ne);
      const __m128 gb = _mm_and_ps(sb, nc), ga = _mm_andnot_ps(sb, nc);
      _mm_storeu_ps(o0 + 2 * ox, _mm_unpacklo_ps(ga, gb));
      _mm_storeu_ps(o0 + 2 * ox + 4, _mm_unpackhi_ps(ga, gb));
      _mm_storeu_ps(o1 + 2 * ox, _mm_unpacklo_ps(gc, ge));
      _mm_storeu_ps(o1 + 2 * ox + 4, _mm_unpackhi_ps(gc, ge));
    }
#endif
    for (; ox < g.ow; ++ox) {
      const float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], e = r1[2 * ox + 1];
      int k = 0;
      float m = a;
      if (b > m) m = b, k = 1;
      if (c > m) m = c, k = 2;
      if (e > m) k = 3;
      const float v = d[ox] + 0.f;
      o0[2 * ox] = k == 0 ? v : 0.f;
      o0[2 * ox + 1] = k == 1 ? v : 0.f;
      o1[2 * ox] = k == 2 ? v : 0.f;
      o1[2 * ox + 1] = k == 3 ? v : 0.f;
    }
    if (g.w & 1) o0[g.w - 1] = o1[g.w - 1] = 0.f;  // the odd last column is in no window
  }
  if (g.h & 1) std::memset(out + (g.h - 1) * g.w, 0, sizeof(float) * g.w);  // nor the odd last row
}

}  // namespace

// (The per-output bodies in kernels/geometry.h define the semantics; these loops hoist the window bounds
// and use separability, with the same first-maximum and NaN rules.)
void max_pool_forward(const PoolGeom& g, const float* x, float* y) {
  if (g.n * g.c == 0 || g.oh * g.ow == 0) return;
  const Ranges r(g);
  const bool fast = pool_2x2s2(g);
  const size_t stride = slice_stride(g.w);
  float* ws = workspace(stride * static_cast<size_t>(num_threads()));
  parallel_for(g.n * g.c, [&](int64_t b, int64_t e, int tid) {
    float* col = ws + static_cast<size_t>(tid) * stride;
    for (int64_t p = b; p < e; ++p) {
      const float* plane = x + p * g.h * g.w;
      float* out = y + p * g.oh * g.ow;
      if (has_nan(plane, g.h * g.w)) {
        // rare: the NaN-propagating maximum
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          column_max(plane, g.w, r.y0[oy], r.y1[oy], col);
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            float m = col[r.x0[ox]];
            for (int32_t ix = r.x0[ox] + 1; ix < r.x1[ox]; ++ix) m = max_nan(m, col[ix]);
            out[oy * g.ow + ox] = m;
          }
        }
        continue;
      }
      // no NaN: plain maxima (maxps / maxss, no branches)
      if (fast) {
        max_pool_2x2s2_forward(g, plane, out);
        continue;
      }
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const float* r0 = plane + r.y0[oy] * g.w;
        for (int64_t ix = 0; ix < g.w; ++ix) col[ix] = r0[ix];
        for (int32_t iy = r.y0[oy] + 1; iy < r.y1[oy]; ++iy) {
          const float* row = plane + iy * g.w;
          for (int64_t ix = 0; ix < g.w; ++ix) col[ix] = row[ix] > col[ix] ? row[ix] : col[ix];
        }
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          float m = col[r.x0[ox]];
          for (int32_t ix = r.x0[ox] + 1; ix < r.x1[ox]; ++ix) m = col[ix] > m ? col[ix] : m;
          out[oy * g.ow + ox] = m;
        }
      }
    }
  });
}

void max_pool_backward(const PoolGeom& g, const float* x, const float* dy, float* dx) {
  if (g.n * g.c == 0 || g.h * g.w == 0) return;
  const Ranges r(g);
  const bool fast = pool_2x2s2(g);
  // per thread: one int64 key per column
  const size_t stride = slice_stride(2 * g.w);
  float* ws = workspace(stride * static_cast<size_t>(num_threads()));
  parallel_for(g.n * g.c, [&](int64_t b, int64_t e, int tid) {
    int64_t* key = reinterpret_cast<int64_t*>(ws + static_cast<size_t>(tid) * stride);
    for (int64_t p = b; p < e; ++p) {
      const float* plane = x + p * g.h * g.w;
      const float* d = dy + p * g.oh * g.ow;
      float* out = dx + p * g.h * g.w;
      const bool nan = has_nan(plane, g.h * g.w);
      if (fast && !nan) {
        max_pool_2x2s2_backward(g, plane, d, out);
        continue;
      }
      std::memset(out, 0, sizeof(float) * g.h * g.w);
      if (nan) {
        // rare: the per-window body with the NaN rule (the first NaN in scan order wins)
        for (int64_t oy = 0; oy < g.oh; ++oy)
          for (int64_t ox = 0; ox < g.ow; ++ox) out[max_window_argmax(plane, g, oy, ox)] += d[oy * g.ow + ox];
        continue;
      }
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        column_keys(plane, g.w, r.y0[oy], r.y1[oy], key);
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          int64_t best = key[r.x0[ox]];
          int32_t bx = r.x0[ox];
          for (int32_t ix = r.x0[ox] + 1; ix < r.x1[ox]; ++ix) {
            const bool take = key[ix] > best;  // strictly: an equal key in a later column is later in scan order
            best = take ? key[ix] : best;
            bx = take ? ix : bx;
          }
          out[static_cast<int64_t>(key_row(best)) * g.w + bx] += d[oy * g.ow + ox];
        }
      }
    }
  });
}

void avg_pool_forward(const PoolGeom& g, bool cip, const float* x, float* y) {
  parallel_for(g.n * g.c, [&](int64_t b, int64_t e, int) {
    for (int64_t p = b; p < e; ++p) {
      const float* plane = x + p * g.h * g.w;
      float* out = y + p * g.oh * g.ow;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          AvgWindow w = avg_window(g, cip, oy, ox);
          float acc = 0.f;
          for (int64_t iy = w.y0; iy < w.y1; ++iy)
            for (int64_t ix = w.x0; ix < w.x1; ++ix) acc += plane[iy * g.w + ix];
          out[oy * g.ow + ox] = acc / w.divisor;
        }
    }
  });
}

void avg_pool_backward(const PoolGeom& g, bool cip, const float* dy, float* dx) {
  parallel_for(g.n * g.c, [&](int64_t b, int64_t e, int) {
    for (int64_t p = b; p < e; ++p) {
      const float* d = dy + p * g.oh * g.ow;
      float* out = dx + p * g.h * g.w;
      std::memset(out, 0, sizeof(float) * g.h * g.w);
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          AvgWindow w = avg_window(g, cip, oy, ox);
          const float v = d[oy * g.ow + ox] / w.divisor;
          for (int64_t iy = w.y0; iy < w.y1; ++iy)
            for (int64_t ix = w.x0; ix < w.x1; ++ix) out[iy * g.w + ix] += v;
        }
    }
  });
}

void adaptive_avg_pool_forward(const PoolGeom& g, const float* x, float* y) {
  parallel_for(g.n * g.c, [&](int64_t b, int64_t e, int) {
    for (int64_t p = b; p < e; ++p) {
      const float* plane = x + p * g.h * g.w;
      float* out = y + p * g.oh * g.ow;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const int64_t y0 = adaptive_start(oy, g.oh, g.h), y1 = adaptive_end(oy, g.oh, g.h);
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const int64_t x0 = adaptive_start(ox, g.ow, g.w), x1 = adaptive_end(ox, g.ow, g.w);
          float acc = 0.f;
          for (int64_t iy = y0; iy < y1; ++iy)
            for (int64_t ix = x0; ix < x1; ++ix) acc += plane[iy * g.w + ix];
          out[oy * g.ow + ox] = acc / static_cast<float>((y1 - y0) * (x1 - x0));
        }
      }
    }
  });
}

void adaptive_avg_pool_backward(const PoolGeom& g, const float* dy, float* dx) {
  parallel_for(g.n * g.c, [&](int64_t b, int64_t e, int) {
    for (int64_t p = b; p < e; ++p) {
      const float* d = dy + p * g.oh * g.ow;
      float* out = dx + p * g.h * g.w;
      std::memset(out, 0, sizeof(float) * g.h * g.w);
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const int64_t y0 = adaptive_start(oy, g.oh, g.h), y1 = adaptive_end(oy, g.oh, g.h);
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const int64_t x0 = adaptive_start(ox, g.ow, g.w), x1 = adaptive_end(ox, g.ow, g.w);
          const float v = d[oy * g.ow + ox] / static_cast<float>((y1 - y0) * (x1 - x0));
          for (int64_t iy = y0; iy < y1; ++iy)
            for (int64_t ix = x0; ix < x1; ++ix) out[iy * g.w + ix] += v;
        }
      }
    }
  });
}

}  // namespace convnet
