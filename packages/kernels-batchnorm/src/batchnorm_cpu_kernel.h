// The CPU addon's batch-norm bodies (convnet_batchnorm.node), for a range of channels [c0, c1): one call per pool
// thread, so a channel is always computed start to end by one thread, in one fixed order. Included once per
// instruction set by batchnorm_cpu_<isa>.cpp inside `namespace convnet::batchnorm::cpu::<isa>` (baseline x86-64 /
// any CPU: `generic`; `avx2`, compiled with -mavx2). The code is the same for both: GCC vector types of 8 lanes
// (one AVX register, or two SSE2 registers) and no fused multiply-add (CMakeLists.txt compiles the addon with
// -ffp-contract=off), so every build gives bit-identical results; only the speed differs.
//
// Numerics (the math is src/ref.ts's):
//   forward statistics   one pass: Σ(x − K) and Σ(x − K)² in double, K = the channel's first value (a shift that
//                        keeps E[x²] − E[x]² from cancelling when |mean| ≫ std), each float widened exactly; the
//                        element at offset k of a plane goes to lane k mod 8, lanes are added in a fixed order;
//   normalisation        y = (x − m)·a + b in float, m = the mean rounded to float (x − m is exact when x is near
//                        m), a = weight·invStd, b = bias − (mean − m)·a (so the rounding of m is corrected);
//   backward             one pass for Σdy and Σdy·(x − mean) (double), one for dx = k1·dy + k2·(x − mean) + k0 (float).
// The CUDA kernels and their host emulator keep the per-channel double bodies of batchnorm.h.
// No #include here (this file is included inside a namespace): batchnorm_cpu.h brings <cmath>, <cstring>, Dims.

typedef double bn_d4 __attribute__((vector_size(32)));
typedef float bn_f4 __attribute__((vector_size(16)));
typedef float bn_f8 __attribute__((vector_size(32)));

namespace {

inline bn_f8 load8(const float* p) {
  bn_f8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, bn_f8 v) { std::memcpy(p, &v, sizeof v); }
// 4 floats widened to doubles (exact): one vcvtps2pd on AVX (GCC splits the generic form into halves there)
inline bn_d4 lo4(const float* p) {
#if defined(__AVX__)
  return reinterpret_cast<bn_d4>(_mm256_cvtps_pd(_mm_loadu_ps(p)));
#else
  bn_f4 v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, bn_d4);
#endif
}
inline bn_f8 splat8(float v) { return bn_f8{v, v, v, v, v, v, v, v}; }
inline bn_d4 splat4(double v) { return bn_d4{v, v, v, v}; }
// the 8 lanes (a: 0-3, b: 4-7) added in a fixed order
inline double lanes(bn_d4 a, bn_d4 b) {
  const bn_d4 s = a + b;
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// Two 4-lane double accumulators (lanes 0-3, 4-7) for each of two sums.
struct Acc {
  bn_d4 s0, s1, q0, q1;
};

// Adds one plane: Σ(x − K) into s, Σ(x − K)² into q; element k goes to lane k mod 8.
inline void shifted_sums(const float* p, int64_t plane, double K, Acc& r) {
  const bn_d4 k4 = splat4(K);
  const int64_t body = plane & ~int64_t{7};
  bn_d4 s0 = r.s0, s1 = r.s1, q0 = r.q0, q1 = r.q1;
  for (int64_t k = 0; k < body; k += 8) {
    const bn_d4 a = lo4(p + k) - k4, b = lo4(p + k + 4) - k4;
    s0 += a;
    s1 += b;
    q0 += a * a;
    q1 += b * b;
  }
  for (int64_t k = body; k < plane; ++k) {
    const double v = static_cast<double>(p[k]) - K;
    if ((k & 7) < 4) {
      s0[k & 3] += v;
      q0[k & 3] += v * v;
    } else {
      s1[k & 3] += v;
      q1[k & 3] += v * v;
    }
  }
  r = {s0, s1, q0, q1};
}

// Adds one plane: Σdy into s, Σdy·(x − mean) into q (products exact in double).
inline void grad_sums(const float* p, const float* g, int64_t plane, double mean, Acc& r) {
  const bn_d4 m4 = splat4(mean);
  const int64_t body = plane & ~int64_t{7};
  bn_d4 s0 = r.s0, s1 = r.s1, q0 = r.q0, q1 = r.q1;
  for (int64_t k = 0; k < body; k += 8) {
    const bn_d4 ga = lo4(g + k), gb = lo4(g + k + 4);
    s0 += ga;
    s1 += gb;
    q0 += ga * (lo4(p + k) - m4);
    q1 += gb * (lo4(p + k + 4) - m4);
  }
  for (int64_t k = body; k < plane; ++k) {
    const double gv = g[k], hv = gv * (static_cast<double>(p[k]) - mean);
    if ((k & 7) < 4) {
      s0[k & 3] += gv;
      q0[k & 3] += hv;
    } else {
      s1[k & 3] += gv;
      q1[k & 3] += hv;
    }
  }
  r = {s0, s1, q0, q1};
}

// y = (x − m)·a + b over one plane
inline void affine(const float* p, float* q, int64_t plane, float m, float a, float b) {
  const bn_f8 m8 = splat8(m), a8 = splat8(a), b8 = splat8(b);
  const int64_t body = plane & ~int64_t{7};
  for (int64_t k = 0; k < body; k += 8) store8(q + k, (load8(p + k) - m8) * a8 + b8);
  for (int64_t k = body; k < plane; ++k) q[k] = (p[k] - m) * a + b;
}

// dx = c1·dy + c2·(x − m) + c0 over one plane
inline void grad_input(const float* p, const float* g, float* q, int64_t plane, float m, float c1, float c2, float c0) {
  const bn_f8 m8 = splat8(m), c18 = splat8(c1), c28 = splat8(c2), c08 = splat8(c0);
  const int64_t body = plane & ~int64_t{7};
  for (int64_t k = 0; k < body; k += 8) store8(q + k, c18 * load8(g + k) + c28 * (load8(p + k) - m8) + c08);
  for (int64_t k = body; k < plane; ++k) q[k] = c1 * g[k] + c2 * (p[k] - m) + c0;
}

// Channels are taken in groups whose values fit a cache budget; a group's passes go sample by sample over its
// contiguous planes (long sequential runs for the prefetcher) and its second pass finds the data in cache. Each
// channel's sums still run over its planes in sample order, so the grouping never changes a result.
constexpr int64_t kGroupBytes = 256 * 1024, kMaxGroup = 64;
inline int64_t group_of(const Dims& d, int64_t tensors) {
  const int64_t per = d.n * d.plane * 4 * tensors;
  const int64_t g = per >= kGroupBytes ? 1 : kGroupBytes / per;
  return g < kMaxGroup ? g : kMaxGroup;
}

}  // namespace

void train_channels(int64_t c0, int64_t c1, const Dims& d, float eps, float momentum, const float* x, const float* weight,
                    const float* bias, float* y, float* save_mean, float* save_inv_std, float* running_mean,
                    float* running_var) {
  const int64_t M = d.n * d.plane, stride = d.c * d.plane, G = group_of(d, 1);
  Acc acc[kMaxGroup];
  double shift[kMaxGroup];
  float m[kMaxGroup], a[kMaxGroup], b[kMaxGroup];
  for (int64_t g0 = c0; g0 < c1; g0 += G) {
    const int64_t g1 = g0 + G < c1 ? g0 + G : c1, k = g1 - g0;
    for (int64_t j = 0; j < k; ++j) {
      acc[j] = Acc{};
      shift[j] = x[(g0 + j) * d.plane];
    }
    for (int64_t i = 0; i < d.n; ++i)
      for (int64_t j = 0; j < k; ++j) shifted_sums(x + i * stride + (g0 + j) * d.plane, d.plane, shift[j], acc[j]);
    for (int64_t j = 0; j < k; ++j) {
      const int64_t ch = g0 + j;
      const double ds = lanes(acc[j].s0, acc[j].s1) / static_cast<double>(M);
      const double mean = shift[j] + ds;
      double var = lanes(acc[j].q0, acc[j].q1) / static_cast<double>(M) - ds * ds;
      if (var < 0) var = 0;
      const double inv = 1.0 / std::sqrt(var + static_cast<double>(eps));
      const double ad = inv * weight[ch];
      m[j] = static_cast<float>(mean);
      a[j] = static_cast<float>(ad);
      b[j] = static_cast<float>(bias[ch] - (mean - static_cast<double>(m[j])) * ad);
      save_mean[ch] = m[j];
      save_inv_std[ch] = static_cast<float>(inv);
      const double mo = momentum;
      const double unbiased = M > 1 ? var * static_cast<double>(M) / static_cast<double>(M - 1) : var;
      running_mean[ch] = static_cast<float>((1 - mo) * running_mean[ch] + mo * mean);
      running_var[ch] = static_cast<float>((1 - mo) * running_var[ch] + mo * unbiased);
    }
    for (int64_t i = 0; i < d.n; ++i)
      for (int64_t j = 0; j < k; ++j) {
        const int64_t o = i * stride + (g0 + j) * d.plane;
        affine(x + o, y + o, d.plane, m[j], a[j], b[j]);
      }
  }
}

void inference_channels(int64_t c0, int64_t c1, const Dims& d, float eps, const float* x, const float* weight,
                        const float* bias, const float* running_mean, const float* running_var, float* y) {
  const int64_t stride = d.c * d.plane, G = group_of(d, 1);
  float a[kMaxGroup];
  for (int64_t g0 = c0; g0 < c1; g0 += G) {
    const int64_t g1 = g0 + G < c1 ? g0 + G : c1, k = g1 - g0;
    for (int64_t j = 0; j < k; ++j)
      a[j] = static_cast<float>(weight[g0 + j] / std::sqrt(static_cast<double>(running_var[g0 + j]) + static_cast<double>(eps)));
    for (int64_t i = 0; i < d.n; ++i)
      for (int64_t j = 0; j < k; ++j) {
        const int64_t o = i * stride + (g0 + j) * d.plane;
        affine(x + o, y + o, d.plane, running_mean[g0 + j], a[j], bias[g0 + j]);
      }
  }
}

void backward_channels(int64_t c0, int64_t c1, const Dims& d, const float* x, const float* dy, const float* weight,
                       const float* save_mean, const float* save_inv_std, float* dx, float* dweight, float* dbias) {
  const int64_t M = d.n * d.plane, stride = d.c * d.plane, G = group_of(d, 2);
  Acc acc[kMaxGroup];
  float k1[kMaxGroup], k2[kMaxGroup], k0[kMaxGroup];
  for (int64_t g0 = c0; g0 < c1; g0 += G) {
    const int64_t g1 = g0 + G < c1 ? g0 + G : c1, k = g1 - g0;
    for (int64_t j = 0; j < k; ++j) acc[j] = Acc{};
    for (int64_t i = 0; i < d.n; ++i)
      for (int64_t j = 0; j < k; ++j) {
        const int64_t o = i * stride + (g0 + j) * d.plane;
        grad_sums(x + o, dy + o, d.plane, save_mean[g0 + j], acc[j]);
      }
    for (int64_t j = 0; j < k; ++j) {
      const int64_t ch = g0 + j;
      const double inv = save_inv_std[ch];
      const double sdy = lanes(acc[j].s0, acc[j].s1), sdyx = lanes(acc[j].q0, acc[j].q1) * inv;
      dbias[ch] = static_cast<float>(sdy);
      dweight[ch] = static_cast<float>(sdyx);
      // dx = w·inv/M·(M·dy − Σdy − x̂·Σdy·x̂) = k1·dy + k2·(x − mean) + k0
      const double w = weight[ch], Md = static_cast<double>(M);
      k1[j] = static_cast<float>(w * inv);
      k2[j] = static_cast<float>(-w * inv * inv * sdyx / Md);
      k0[j] = static_cast<float>(-w * inv * sdy / Md);
    }
    for (int64_t i = 0; i < d.n; ++i)
      for (int64_t j = 0; j < k; ++j) {
        const int64_t o = i * stride + (g0 + j) * d.plane;
        grad_input(x + o, dy + o, dx + o, d.plane, save_mean[g0 + j], k1[j], k2[j], k0[j]);
      }
  }
}
