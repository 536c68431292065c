// The N-API binding of the batch-norm kernels, on convnet's native ABI (convnet/abi.h from @convnet/native's
// exported include directory): one function per kernel, named as the kernel, attributes and sizes by name,
// buffers in the spec's order, every argument checked by the shared checker. Compiled three ways (CMakeLists.txt):
//   CONVNET_BN_CPU    convnet_batchnorm.node: Float32Arrays, the kernels of batchnorm_cpu.h (channels split over a
//                     thread pool; attribute `threads`, optional: how many, default CONVNET_NUM_THREADS or the
//                     cores); also info() -> {isa, threads}: the instruction set chosen and the default count;
//   CONVNET_BN_CUDA   convnet_batchnorm_cuda.node: device addresses, the CUDA kernels of batchnorm.cu;
//   CONVNET_BN_HOST   convnet_batchnorm_cuda_host.node: the same launches run by a loop over the CUDA threads
//                     on the host (what the tests run where there is no GPU).
//   cpu:          kernel(attrs {n, c, plane, ...}, ...inputs, ...outputs)
//   cuda, host:   kernel(stream, attrs {n, c, plane, ...}, ...inputs, ...outputs)
#include <napi.h>

#include "batchnorm.h"
#include "convnet/abi.h"
#if defined(CONVNET_BN_CPU)
#include "batchnorm_cpu.h"
#endif

namespace convnet::batchnorm {

#if defined(CONVNET_BN_CPU)
constexpr const char* kAddon = "batchnorm";
#else
constexpr const char* kAddon = "batchnorm_cuda";
using Stream = void*;
// Launches: one thread per channel (batchnorm.cu), or the same bodies over every channel on the host.
void launch_train(Stream s, const Dims& d, float eps, float momentum, const float* x, const float* w, const float* b,
                  float* y, float* mean, float* inv, float* rmean, float* rvar);
void launch_inference(Stream s, const Dims& d, float eps, const float* x, const float* w, const float* b,
                      const float* rmean, const float* rvar, float* y);
void launch_backward(Stream s, const Dims& d, const float* x, const float* dy, const float* w, const float* mean,
                     const float* inv, float* dx, float* dw, float* db);
#if defined(CONVNET_BN_HOST)
void launch_train(Stream, const Dims& d, float eps, float momentum, const float* x, const float* w, const float* b,
                  float* y, float* mean, float* inv, float* rmean, float* rvar) {
  for (int64_t ch = 0; ch < d.c; ++ch) train_channel(ch, d, eps, momentum, x, w, b, y, mean, inv, rmean, rvar);
}
void launch_inference(Stream, const Dims& d, float eps, const float* x, const float* w, const float* b,
                      const float* rmean, const float* rvar, float* y) {
  for (int64_t ch = 0; ch < d.c; ++ch) inference_channel(ch, d, eps, x, w, b, rmean, rvar, y);
}
void launch_backward(Stream, const Dims& d, const float* x, const float* dy, const float* w, const float* mean,
                     const float* inv, float* dx, float* dw, float* db) {
  for (int64_t ch = 0; ch < d.c; ++ch) backward_channel(ch, d, x, dy, w, mean, inv, dx, dw, db);
}
#endif
#endif

namespace {

using Info = Napi::CallbackInfo;
using abi::Args;

#if defined(CONVNET_BN_CPU)
constexpr size_t kFirst = 1;  // buffers start after attrs
#else
constexpr size_t kFirst = 2;  // after stream, attrs
#endif

// {n, c, plane} of x [n, c, plane], checked: at least one value per channel, countable sizes.
Dims dims(Args& a) {
  a.attrs(kFirst - 1);
  Dims d{a.len_attr("n"), a.len_attr("c"), a.len_attr("plane")};
  a.count({d.n, d.c, d.plane});
  if (d.n * d.plane < 1 && d.c > 0) throw a.attr_error("n", "batch norm needs at least one value per channel (n·plane >= 1)");
  return d;
}
float positive(Args& a, const char* name) {
  const double v = a.num_attr(name);
  if (!(v > 0)) throw a.attr_error(name, "expected a positive number");
  return static_cast<float>(v);
}
float momentum(Args& a) {
  const double v = a.num_attr("momentum");
  if (!(v >= 0 && v <= 1)) throw a.attr_error("momentum", "expected a number in [0, 1]");
  return static_cast<float>(v);
}

#if defined(CONVNET_BN_CPU)
// The optional `threads` attribute (1..1024); absent: CONVNET_NUM_THREADS or the cores.
int threads(Args& a) {
  const Napi::Object o = a.info()[kFirst - 1].As<Napi::Object>();
  if (!o.Has("threads") || o.Get("threads").IsUndefined()) return cpu::default_threads();
  return static_cast<int>(a.int_attr("threads", 1, 1024));
}
// batchNorm2d({n, c, plane, eps, momentum[, threads]}, x, weight, bias, y, saveMean, saveInvStd, runningMean, runningVar)
Napi::Value batch_norm_2d(const Info& info) {
  Args a(info, kAddon, "batchNorm2d");
  const Dims d = dims(a);
  const float eps = positive(a, "eps"), m = momentum(a);
  const size_t len = a.count({d.n, d.c, d.plane}), c = a.count({d.c});
  const float *x = a.f32(1, len).data, *w = a.f32(2, c).data, *b = a.f32(3, c).data;
  float *y = a.f32(4, len).data, *mean = a.f32(5, c).data, *inv = a.f32(6, c).data, *rm = a.f32(7, c).data,
        *rv = a.f32(8, c).data;
  cpu::train(d, threads(a), eps, m, x, w, b, y, mean, inv, rm, rv);
  return info.Env().Undefined();
}
// batchNorm2dInference({n, c, plane, eps[, threads]}, x, weight, bias, runningMean, runningVar, y)
Napi::Value batch_norm_2d_inference(const Info& info) {
  Args a(info, kAddon, "batchNorm2dInference");
  const Dims d = dims(a);
  const float eps = positive(a, "eps");
  const size_t len = a.count({d.n, d.c, d.plane}), c = a.count({d.c});
  const float *x = a.f32(1, len).data, *w = a.f32(2, c).data, *b = a.f32(3, c).data, *rm = a.f32(4, c).data,
              *rv = a.f32(5, c).data;
  float* y = a.f32(6, len).data;
  cpu::inference(d, threads(a), eps, x, w, b, rm, rv, y);
  return info.Env().Undefined();
}
// batchNorm2dBackward({n, c, plane[, threads]}, x, dy, weight, saveMean, saveInvStd, dx, dweight, dbias)
Napi::Value batch_norm_2d_backward(const Info& info) {
  Args a(info, kAddon, "batchNorm2dBackward");
  const Dims d = dims(a);
  const size_t len = a.count({d.n, d.c, d.plane}), c = a.count({d.c});
  const float *x = a.f32(1, len).data, *dy = a.f32(2, len).data, *w = a.f32(3, c).data, *mean = a.f32(4, c).data,
              *inv = a.f32(5, c).data;
  float *dx = a.f32(6, len).data, *dw = a.f32(7, c).data, *db = a.f32(8, c).data;
  cpu::backward(d, threads(a), x, dy, w, mean, inv, dx, dw, db);
  return info.Env().Undefined();
}
// info() -> {isa: 'avx2' | 'generic', threads: the default thread count}
Napi::Value cpu_info(const Info& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("isa", cpu::isa());
  o.Set("threads", cpu::default_threads());
  return o;
}
#else
// The same three functions after a stream, with device addresses (the TypeScript side sized every buffer).
Napi::Value batch_norm_2d(const Info& info) {
  Args a(info, kAddon, "batchNorm2d");
  const Dims d = dims(a);
  const float eps = positive(a, "eps"), m = momentum(a);
  launch_train(a.ptr<void>(0), d, eps, m, a.ptr(2), a.ptr(3), a.ptr(4), a.ptr(5), a.ptr(6), a.ptr(7), a.ptr(8), a.ptr(9));
  return info.Env().Undefined();
}
Napi::Value batch_norm_2d_inference(const Info& info) {
  Args a(info, kAddon, "batchNorm2dInference");
  const Dims d = dims(a);
  launch_inference(a.ptr<void>(0), d, positive(a, "eps"), a.ptr(2), a.ptr(3), a.ptr(4), a.ptr(5), a.ptr(6), a.ptr(7));
  return info.Env().Undefined();
}
Napi::Value batch_norm_2d_backward(const Info& info) {
  Args a(info, kAddon, "batchNorm2dBackward");
  const Dims d = dims(a);
  launch_backward(a.ptr<void>(0), d, a.ptr(2), a.ptr(3), a.ptr(4), a.ptr(5), a.ptr(6), a.ptr(7), a.ptr(8), a.ptr(9));
  return info.Env().Undefined();
}
#endif

template <Napi::Value (*F)(const Info&)>
Napi::Value guarded(const Info& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("batchNorm2d", Napi::Function::New(env, guarded<batch_norm_2d>, "batchNorm2d"));
  exports.Set("batchNorm2dInference", Napi::Function::New(env, guarded<batch_norm_2d_inference>, "batchNorm2dInference"));
  exports.Set("batchNorm2dBackward", Napi::Function::New(env, guarded<batch_norm_2d_backward>, "batchNorm2dBackward"));
#if defined(CONVNET_BN_CPU)
  exports.Set("info", Napi::Function::New(env, cpu_info, "info"));
#endif
  return exports;
}

}  // namespace
}  // namespace convnet::batchnorm

static Napi::Object InitBatchNorm(Napi::Env env, Napi::Object exports) { return convnet::batchnorm::init(env, exports); }
NODE_API_MODULE(convnet_batchnorm, InitBatchNorm)
