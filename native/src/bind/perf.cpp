#include <string>

#include "args.h"
#include "convnet/gemm.h"
#include "convnet/peak.h"

namespace convnet::bind {

// fmaPeak(seconds, threads) -> { bestGflops, medianGflops, threads, vectorFloats, rounds }
static Napi::Value fma_peak_fn(const Napi::CallbackInfo& info) {
  const char* fn = "fmaPeak";
  const double seconds = num_arg(info, fn, 0);
  if (!(seconds >= 0 && seconds <= 60)) throw arg_error(info, fn, 0, "seconds must be in [0, 60]");
  const int threads = static_cast<int>(int_arg(info, fn, 1, 1, 1024));
  const FmaPeak p = fma_peak(seconds, threads);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("bestGflops", p.best_gflops);
  o.Set("medianGflops", p.median_gflops);
  o.Set("threads", p.threads);
  o.Set("vectorFloats", p.vector_floats);
  o.Set("rounds", p.rounds);
  return o;
}

// setMatmulPrecision('fp32' | 'bf16'): every later matrix product (gemm.h).
static Napi::Value set_precision_fn(const Napi::CallbackInfo& info) {
  const char* fn = "setMatmulPrecision";
  const std::string v = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (v == "fp32")
    set_matmul_precision(MatmulPrecision::fp32);
  else if (v == "bf16")
    set_matmul_precision(MatmulPrecision::bf16);
  else
    throw arg_error(info, fn, 0, "expected 'fp32' or 'bf16'");
  return info.Env().Undefined();
}

// matmulPrecision() -> { precision: 'fp32' | 'bf16', bf16Engine }
static Napi::Value precision_fn(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("precision", matmul_precision() == MatmulPrecision::bf16 ? "bf16" : "fp32");
  o.Set("bf16Engine", bf16_engine_name());
  return o;
}

void register_perf(Napi::Env env, Napi::Object exports) {
  exports.Set("fmaPeak", Napi::Function::New(env, fma_peak_fn, "fmaPeak"));
  exports.Set("setMatmulPrecision", Napi::Function::New(env, set_precision_fn, "setMatmulPrecision"));
  exports.Set("matmulPrecision", Napi::Function::New(env, precision_fn, "matmulPrecision"));
}

}  // namespace convnet::bind
