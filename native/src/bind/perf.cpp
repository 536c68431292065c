#include "args.h"
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

void register_perf(Napi::Env env, Napi::Object exports) {
  exports.Set("fmaPeak", Napi::Function::New(env, fma_peak_fn, "fmaPeak"));
}

}  // namespace convnet::bind
