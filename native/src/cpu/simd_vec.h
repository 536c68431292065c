// Shared by the per-ISA kernel headers (gemm_kernel.h, conv_direct_kernel.h): GCC vector types of W floats and
// an FMA that maps to the ISA's instruction (W = 16 on AVX2 runs the AVX-512 blocking as two 8-wide FMAs, so that
// geometry is testable on AVX2 machines). Deliberately no include guard and no namespace: it is included inside
// each header's per-ISA namespace, after <immintrin.h>, and compiled with that translation unit's -m flags.

template <int W>
struct VecT {
  typedef float type __attribute__((vector_size(W * 4)));
};
template <int W>
using Vec = typename VecT<W>::type;

template <int W>
static inline __attribute__((always_inline)) Vec<W> vfma(Vec<W> a, Vec<W> b, Vec<W> c) {
#if defined(__AVX512F__)
  if constexpr (W == 16) return (Vec<W>)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#endif
#if defined(__FMA__)
  if constexpr (W == 8) return (Vec<W>)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#if !defined(__AVX512F__)
  if constexpr (W == 16) {  // the AVX-512 blocking emulated on AVX2: two explicit FMAs
    __m256 x[2], y[2], z[2];
    __builtin_memcpy(x, &a, sizeof(a));
    __builtin_memcpy(y, &b, sizeof(b));
    __builtin_memcpy(z, &c, sizeof(c));
    z[0] = _mm256_fmadd_ps(x[0], y[0], z[0]);
    z[1] = _mm256_fmadd_ps(x[1], y[1], z[1]);
    Vec<W> r;
    __builtin_memcpy(&r, z, sizeof(r));
    return r;
  }
#endif
#endif
  return a * b + c;
}
