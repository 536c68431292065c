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
//   backward             one pass for Σdy and Σdy·(x − mean) (double), one for dx = c1·dy + c2·(x − mean) + c0 (float).
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
inline bn_d4 lo4(const float* p) {
  bn_f4 v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, bn_d4);
}
inline bn_f8 splat8(float v) { return bn_f8{v, v, v, v, v, v, v, v}; }
inline bn_d4 splat4(double v) { return bn_d4{v, v, v, v}; }
// the 8 lanes (a: 0-3, b: 4-7) added in a fixed order
inline double lanes(bn_d4 a, bn_d4 b) {
  const bn_d4 s = a + b;
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// Σ(x − K) and Σ(x − K)² over the channel's n planes (plane floats each, `stride` floats apart)
void shifted_sums(const float* x, int64_t n, int64_t plane, int64_t stride, double K, double& sum, double& sq) {
  bn_d4 s0{}, s1{}, q0{}, q1{};
  const bn_d4 k4 = splat4(K);
  const int64_t body = plane & ~int64_t{7};
  for (int64_t i = 0; i < n; ++i) {
    const float* p = x + i * stride;
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
  }
  sum = lanes(s0, s1);
  sq = lanes(q0, q1);
}

// y = (x − m)·a + b over the channel's planes
void affine(const float* x, float* y, int64_t n, int64_t plane, int64_t stride, float m, float a, float b) {
  const bn_f8 m8 = splat8(m), a8 = splat8(a), b8 = splat8(b);
  const int64_t body = plane & ~int64_t{7};
  for (int64_t i = 0; i < n; ++i) {
    const float* p = x + i * stride;
    float* q = y + i * stride;
    for (int64_t k = 0; k < body; k += 8) store8(q + k, (load8(p + k) - m8) * a8 + b8);
    for (int64_t k = body; k < plane; ++k) q[k] = (p[k] - m) * a + b;
  }
}

}  // namespace

void train_channels(int64_t c0, int64_t c1, const Dims& d, float eps, float momentum, const float* x, const float* weight,
                    const float* bias, float* y, float* save_mean, float* save_inv_std, float* running_mean,
                    float* running_var) {
  const int64_t M = d.n * d.plane, stride = d.c * d.plane;
  for (int64_t ch = c0; ch < c1; ++ch) {
    const float* xc = x + ch * d.plane;
    const double K = xc[0];
    double s, q;
    shifted_sums(xc, d.n, d.plane, stride, K, s, q);
    const double ds = s / static_cast<double>(M);
    const double mean = K + ds;
    double var = q / static_cast<double>(M) - ds * ds;
    if (var < 0) var = 0;
    const double inv = 1.0 / std::sqrt(var + static_cast<double>(eps));
    const float m = static_cast<float>(mean);
    const double a = inv * weight[ch];
    save_mean[ch] = m;
    save_inv_std[ch] = static_cast<float>(inv);
    affine(xc, y + ch * d.plane, d.n, d.plane, stride, m, static_cast<float>(a),
           static_cast<float>(bias[ch] - (mean - static_cast<double>(m)) * a));
    const double mo = momentum;
    const double unbiased = M > 1 ? var * static_cast<double>(M) / static_cast<double>(M - 1) : var;
    running_mean[ch] = static_cast<float>((1 - mo) * running_mean[ch] + mo * mean);
    running_var[ch] = static_cast<float>((1 - mo) * running_var[ch] + mo * unbiased);
  }
}

void inference_channels(int64_t c0, int64_t c1, const Dims& d, float eps, const float* x, const float* weight,
                        const float* bias, const float* running_mean, const float* running_var, float* y) {
  const int64_t stride = d.c * d.plane;
  for (int64_t ch = c0; ch < c1; ++ch) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(running_var[ch]) + static_cast<double>(eps));
    affine(x + ch * d.plane, y + ch * d.plane, d.n, d.plane, stride, running_mean[ch], static_cast<float>(inv * weight[ch]),
           bias[ch]);
  }
}

void backward_channels(int64_t c0, int64_t c1, const Dims& d, const float* x, const float* dy, const float* weight,
                       const float* save_mean, const float* save_inv_std, float* dx, float* dweight, float* dbias) {
  const int64_t M = d.n * d.plane, stride = d.c * d.plane, body = d.plane & ~int64_t{7};
  for (int64_t ch = c0; ch < c1; ++ch) {
    const float mean = save_mean[ch];
    const double inv = save_inv_std[ch];
    // Σdy and Σdy·(x − mean), products exact in double
    bn_d4 g0{}, g1{}, h0{}, h1{};
    const bn_d4 m4 = splat4(mean);
    for (int64_t i = 0; i < d.n; ++i) {
      const float* p = x + ch * d.plane + i * stride;
      const float* g = dy + ch * d.plane + i * stride;
      for (int64_t k = 0; k < body; k += 8) {
        const bn_d4 ga = lo4(g + k), gb = lo4(g + k + 4);
        g0 += ga;
        g1 += gb;
        h0 += ga * (lo4(p + k) - m4);
        h1 += gb * (lo4(p + k + 4) - m4);
      }
      for (int64_t k = body; k < d.plane; ++k) {
        const double gv = g[k], hv = gv * (static_cast<double>(p[k]) - mean);
        if ((k & 7) < 4) {
          g0[k & 3] += gv;
          h0[k & 3] += hv;
        } else {
          g1[k & 3] += gv;
          h1[k & 3] += hv;
        }
      }
    }
    const double sdy = lanes(g0, g1), sdyx = lanes(h0, h1) * inv;
    dbias[ch] = static_cast<float>(sdy);
    dweight[ch] = static_cast<float>(sdyx);
    // dx = w·inv/M·(M·dy − Σdy − x̂·Σdy·x̂) = c1·dy + c2·(x − mean) + c0
    const double w = weight[ch], Md = static_cast<double>(M);
    const float c1f = static_cast<float>(w * inv), c2f = static_cast<float>(-w * inv * inv * sdyx / Md),
                c0f = static_cast<float>(-w * inv * sdy / Md);
    const bn_f8 c1v = splat8(c1f), c2v = splat8(c2f), c0v = splat8(c0f), mv = splat8(mean);
    for (int64_t i = 0; i < d.n; ++i) {
      const float* p = x + ch * d.plane + i * stride;
      const float* g = dy + ch * d.plane + i * stride;
      float* q = dx + ch * d.plane + i * stride;
      for (int64_t k = 0; k < body; k += 8) store8(q + k, c1v * load8(g + k) + c2v * (load8(p + k) - mv) + c0v);
      for (int64_t k = body; k < d.plane; ++k) q[k] = c1f * g[k] + c2f * (p[k] - mean) + c0f;
    }
  }
}
