#include "args.h"
#include "convnet/gemm.h"

namespace convnet::bind {

// sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc): row-major, see gemm.h.
static Napi::Value sgemm_fn(const Napi::CallbackInfo& info) {
  const char* fn = "sgemm";
  bool ta = bool_arg(info, fn, 0), tb = bool_arg(info, fn, 1);
  // dimensions below 2^31, so (rows - 1) * ld + cols below cannot overflow int64
  const int64_t kMax = (INT64_C(1) << 31) - 1;
  int64_t M = int_arg(info, fn, 2, 0, kMax), N = int_arg(info, fn, 3, 0, kMax), K = int_arg(info, fn, 4, 0, kMax);
  float alpha = static_cast<float>(num_arg(info, fn, 5));
  int64_t lda = int_arg(info, fn, 7, 1, kMax), ldb = int_arg(info, fn, 9, 1, kMax), ldc = int_arg(info, fn, 12, 1, kMax);
  float beta = static_cast<float>(num_arg(info, fn, 10));
  int64_t arows = ta ? K : M, acols = ta ? M : K, brows = tb ? N : K, bcols = tb ? K : N;
  if (lda < acols) throw arg_error(info, fn, 7, "lda < columns of A");
  if (ldb < bcols) throw arg_error(info, fn, 9, "ldb < columns of B");
  if (ldc < N) throw arg_error(info, fn, 12, "ldc < N");
  auto need = [](int64_t rows, int64_t cols, int64_t ld) -> size_t {
    return rows == 0 || cols == 0 ? 0 : static_cast<size_t>((rows - 1) * ld + cols);
  };
  F32 A = f32(info, fn, 6, need(arows, acols, lda));
  F32 B = f32(info, fn, 8, need(brows, bcols, ldb));
  F32 C = f32(info, fn, 11, need(M, N, ldc));
  sgemm(ta, tb, M, N, K, alpha, A.data, lda, B.data, ldb, beta, C.data, ldc);
  return info.Env().Undefined();
}

void register_gemm(Napi::Env env, Napi::Object exports) {
  exports.Set("sgemm", Napi::Function::New(env, sgemm_fn, "sgemm"));
}

}  // namespace convnet::bind
