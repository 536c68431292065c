// The N-API binding of the batch-norm kernels, on convnet's native ABI (convnet/abi.h from @convnet/native's
// exported include directory): one function per kernel, named as the kernel, attributes and sizes by name,
// buffers in the spec's order, every argument checked by the shared checker. Compiled three ways (CMakeLists.txt):
//   CONVNET_BN_CPU    convnet_batchnorm.node: Float32Arrays, the kernels of batchnorm_cpu.h (channels split over
//                     @convnet/native's thread pool, handed over once by useRuntime(native.runtime())); also
//                     info() -> {isa, threads}: the bodies chosen and the pool's thread count;
//   CONVNET_BN_CUDA   convnet_batchnorm_cuda.node: device addresses, the CUDA kernels of batchnorm.cu;
//   CONVNET_BN_HOST   convnet_batchnorm_cuda_host.node: the same launches run on the host, the kernels' phases
//                     (batchnorm.h) over every block and thread (what the tests run where there is no GPU).
//   cpu:          kernel(attrs {n, c, plane, ...}, ...inputs, ...outputs)
//   cuda, host:   kernel(stream, attrs {n, c, plane, ...}, ...inputs, ...outputs)
#include <napi.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

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
// The tensor's device (`cuda:N`) is made current before each launch: the stream belongs to that device, and this
// addon's CUDA runtime (linked statically, so not the one of @convnet/cuda's addon) keeps its own current device.
void select_device(int device);
// The synchronising debug mode, CONVNET_CUDA_SYNC=1 (as @convnet/cuda): each launch waits for its kernel.
bool sync_debug();
// Launches: block-per-channel reductions + elementwise grids (batchnorm.cu), or the same phases on the host.
void launch_train(Stream s, const Dims& d, float eps, float momentum, const float* x, const float* w, const float* b,
                  float* y, float* mean, float* inv, float* rmean, float* rvar);
void launch_inference(Stream s, const Dims& d, float eps, const float* x, const float* w, const float* b,
                      const float* rmean, const float* rvar, float* y);
void launch_backward(Stream s, const Dims& d, const float* x, const float* dy, const float* w, const float* mean,
                     const float* inv, float* dx, float* dw, float* db);
#if defined(CONVNET_BN_HOST)
void select_device(int device) {
  if (device != 0) throw std::runtime_error("batchnorm_cuda (host emulator): there is only device 0, got " + std::to_string(device));
}
bool sync_debug() {
  const char* v = std::getenv("CONVNET_CUDA_SYNC");
  return v != nullptr && *v != 0 && std::string(v) != "0";
}
// The emulator: the kernels' phases (batchnorm.h) over every block and thread, the barrier between phases.
namespace {
template <class Partial>
double block_reduce(Partial partial) {  // partial(t) for every thread, then the kernel's fixed tree
  double sh[kBnThreads];
  for (int t = 0; t < kBnThreads; ++t) sh[t] = partial(t);
  for (int s = kBnThreads / 2; s > 0; s >>= 1)
    for (int t = 0; t < kBnThreads; ++t) bn_tree_step(sh, t, s);
  return sh[0];
}
template <class Body>
void elements(const Dims& d, Body body) {  // the elementwise grid: every (row, offset) once
  for (int64_t row = 0; row < d.n * d.c; ++row)
    for (int64_t k = 0; k < d.plane; ++k) body(row, k);
}
}  // namespace
void launch_train(Stream, const Dims& d, float eps, float momentum, const float* x, const float* w, const float* b,
                  float* y, float* mean, float* inv, float* rmean, float* rvar) {
  const double M = static_cast<double>(d.n * d.plane);
  for (int64_t ch = 0; ch < d.c; ++ch) {
    const double mu = block_reduce([&](int t) { return bn_partial(d, ch, t, x, [](float v) { return static_cast<double>(v); }); }) / M;
    const double sq = block_reduce([&](int t) { return bn_partial(d, ch, t, x, [mu](float v) { return (v - mu) * (v - mu); }); });
    bn_train_finish(ch, d, eps, momentum, mu, sq, mean, inv, rmean, rvar);
  }
  elements(d, [&](int64_t row, int64_t k) { bn_train_y(d, row, k, x, w, b, mean, inv, y); });
}
void launch_inference(Stream, const Dims& d, float eps, const float* x, const float* w, const float* b,
                      const float* rmean, const float* rvar, float* y) {
  elements(d, [&](int64_t row, int64_t k) { bn_inference_y(d, row, k, eps, x, w, b, rmean, rvar, y); });
}
void launch_backward(Stream, const Dims& d, const float* x, const float* dy, const float* w, const float* mean,
                     const float* inv, float* dx, float* dw, float* db) {
  for (int64_t ch = 0; ch < d.c; ++ch) {
    double s0[kBnThreads], s1[kBnThreads];
    const double mu = mean[ch], iv = inv[ch];
    for (int t = 0; t < kBnThreads; ++t)
      bn_partial2(d, ch, t, x, dy, [mu, iv](float v, float g, double& a0, double& a1) {
        a0 += g;
        a1 += g * (v - mu) * iv;
      }, s0[t], s1[t]);
    for (int s = kBnThreads / 2; s > 0; s >>= 1)
      for (int t = 0; t < kBnThreads; ++t) {
        bn_tree_step(s0, t, s);
        bn_tree_step(s1, t, s);
      }
    db[ch] = static_cast<float>(s0[0]);
    dw[ch] = static_cast<float>(s1[0]);
  }
  elements(d, [&](int64_t row, int64_t k) { bn_backward_dx(d, row, k, x, dy, w, mean, inv, dw, db, dx); });
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
// useRuntime(require('@convnet/native').runtime()): the pool and ISA every kernel call uses.
Napi::Value use_runtime(const Info& info) {
  cpu::use_runtime(kit::from_external(info[0]));
  return info.Env().Undefined();
}
// batchNorm2d({n, c, plane, eps, momentum}, x, weight, bias, y, saveMean, saveInvStd, runningMean, runningVar)
Napi::Value batch_norm_2d(const Info& info) {
  Args a(info, kAddon, "batchNorm2d");
  const Dims d = dims(a);
  const float eps = positive(a, "eps"), m = momentum(a);
  const size_t len = a.count({d.n, d.c, d.plane}), c = a.count({d.c});
  const float *x = a.f32(1, len).data, *w = a.f32(2, c).data, *b = a.f32(3, c).data;
  float *y = a.f32(4, len).data, *mean = a.f32(5, c).data, *inv = a.f32(6, c).data, *rm = a.f32(7, c).data,
        *rv = a.f32(8, c).data;
  cpu::train(d, eps, m, x, w, b, y, mean, inv, rm, rv);
  return info.Env().Undefined();
}
// batchNorm2dInference({n, c, plane, eps}, x, weight, bias, runningMean, runningVar, y)
Napi::Value batch_norm_2d_inference(const Info& info) {
  Args a(info, kAddon, "batchNorm2dInference");
  const Dims d = dims(a);
  const float eps = positive(a, "eps");
  const size_t len = a.count({d.n, d.c, d.plane}), c = a.count({d.c});
  const float *x = a.f32(1, len).data, *w = a.f32(2, c).data, *b = a.f32(3, c).data, *rm = a.f32(4, c).data,
              *rv = a.f32(5, c).data;
  float* y = a.f32(6, len).data;
  cpu::inference(d, eps, x, w, b, rm, rv, y);
  return info.Env().Undefined();
}
// batchNorm2dBackward({n, c, plane}, x, dy, weight, saveMean, saveInvStd, dx, dweight, dbias)
Napi::Value batch_norm_2d_backward(const Info& info) {
  Args a(info, kAddon, "batchNorm2dBackward");
  const Dims d = dims(a);
  const size_t len = a.count({d.n, d.c, d.plane}), c = a.count({d.c});
  const float *x = a.f32(1, len).data, *dy = a.f32(2, len).data, *w = a.f32(3, c).data, *mean = a.f32(4, c).data,
              *inv = a.f32(5, c).data;
  float *dx = a.f32(6, len).data, *dw = a.f32(7, c).data, *db = a.f32(8, c).data;
  cpu::backward(d, x, dy, w, mean, inv, dx, dw, db);
  return info.Env().Undefined();
}
// info() -> {isa: 'avx2' | 'generic', threads: the pool's thread count}
Napi::Value cpu_info(const Info& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("isa", cpu::isa());
  o.Set("threads", cpu::threads());
  return o;
}
#else
// The attribute `device` (the index N of `cuda:N`), made current before the launch.
void device(Args& a) { select_device(static_cast<int>(a.int_attr("device", 0, 1 << 16))); }
// The same three functions after a stream, with device addresses (the TypeScript side sized every buffer);
// attributes add `device`.
Napi::Value batch_norm_2d(const Info& info) {
  Args a(info, kAddon, "batchNorm2d");
  const Dims d = dims(a);
  device(a);
  const float eps = positive(a, "eps"), m = momentum(a);
  launch_train(a.ptr<void>(0), d, eps, m, a.ptr(2), a.ptr(3), a.ptr(4), a.ptr(5), a.ptr(6), a.ptr(7), a.ptr(8), a.ptr(9));
  return info.Env().Undefined();
}
Napi::Value batch_norm_2d_inference(const Info& info) {
  Args a(info, kAddon, "batchNorm2dInference");
  const Dims d = dims(a);
  device(a);
  launch_inference(a.ptr<void>(0), d, positive(a, "eps"), a.ptr(2), a.ptr(3), a.ptr(4), a.ptr(5), a.ptr(6), a.ptr(7));
  return info.Env().Undefined();
}
Napi::Value batch_norm_2d_backward(const Info& info) {
  Args a(info, kAddon, "batchNorm2dBackward");
  const Dims d = dims(a);
  device(a);
  launch_backward(a.ptr<void>(0), d, a.ptr(2), a.ptr(3), a.ptr(4), a.ptr(5), a.ptr(6), a.ptr(7), a.ptr(8), a.ptr(9));
  return info.Env().Undefined();
}
// info() -> {kind: 'cuda' | 'cuda-host', sync: whether CONVNET_CUDA_SYNC=1 is on}
Napi::Value cuda_info(const Info& info) {
  Napi::Object o = Napi::Object::New(info.Env());
#if defined(CONVNET_BN_HOST)
  o.Set("kind", "cuda-host");
#else
  o.Set("kind", "cuda");
#endif
  o.Set("sync", sync_debug());
  return o;
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
  exports.Set("info", Napi::Function::New(env, guarded<cpu_info>, "info"));
  exports.Set("useRuntime", Napi::Function::New(env, guarded<use_runtime>, "useRuntime"));
#else
  exports.Set("info", Napi::Function::New(env, cuda_info, "info"));
#endif
  return exports;
}

}  // namespace
}  // namespace convnet::batchnorm

static Napi::Object InitBatchNorm(Napi::Env env, Napi::Object exports) { return convnet::batchnorm::init(env, exports); }
NODE_API_MODULE(convnet_batchnorm, InitBatchNorm)
