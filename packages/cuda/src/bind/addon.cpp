// The Node-API binding, compiled three ways (CMakeLists.txt):
//   CONVNET_ADDON_CUDA  — convnet_cuda.node with the CUDA kernels (built by nvcc where a toolkit is found),
//   CONVNET_ADDON_HOST  — convnet_cuda_host.node: the same launches run by the host emulator,
//   CONVNET_ADDON_STUB  — convnet_cuda.node built without CUDA: info() and probe() only.
// Device pointers cross as JS numbers (integers below 2^53: every x86-64 / CUDA UVA address is). The
// TypeScript side owns all device memory (its caching allocator) and has validated every shape; this layer
// checks that every geometry number is an integer in range and consistent, then launches.
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "../device.h"

#ifndef CONVNET_CUDA_ARCHS
#define CONVNET_CUDA_ARCHS ""
#endif
#ifndef CONVNET_CUDA_BUILD_NOTE
#define CONVNET_CUDA_BUILD_NOTE ""
#endif

namespace convnet::cuda::bind {
namespace {

using Info = Napi::CallbackInfo;
constexpr int64_t kMaxDim = (INT64_C(1) << 31) - 1;
constexpr int64_t kMaxSafe = (INT64_C(1) << 53) - 1;

Napi::Error arg_error(const Info& info, const char* fn, size_t i, const std::string& msg) {
  return Napi::TypeError::New(info.Env(), std::string("cuda.") + fn + ": argument " + std::to_string(i) + ": " + msg);
}

int64_t int_arg(const Info& info, const char* fn, size_t i, int64_t lo = 0, int64_t hi = kMaxSafe) {
  if (i >= info.Length() || !info[i].IsNumber()) throw arg_error(info, fn, i, "expected a number");
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || v != std::floor(v) || v < static_cast<double>(lo) || v > static_cast<double>(hi))
    throw arg_error(info, fn, i, "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                                     std::to_string(v));
  return static_cast<int64_t>(v);
}
double num_arg(const Info& info, const char* fn, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber()) throw arg_error(info, fn, i, "expected a number");
  return info[i].As<Napi::Number>().DoubleValue();
}
bool bool_arg(const Info& info, const char* fn, size_t i) {
  if (i >= info.Length() || !info[i].IsBoolean()) throw arg_error(info, fn, i, "expected a boolean");
  return info[i].As<Napi::Boolean>().Value();
}
// A device address (0 = null where the argument is optional).
template <class T = float>
T* ptr_arg(const Info& info, const char* fn, size_t i) {
  return reinterpret_cast<T*>(static_cast<uintptr_t>(int_arg(info, fn, i)));
}
Stream stream_arg(const Info& info, const char* fn, size_t i) { return ptr_arg<void>(info, fn, i); }

std::vector<int64_t> int_list(const Info& info, const char* fn, size_t i, size_t count) {
  if (i >= info.Length() || !info[i].IsArray()) throw arg_error(info, fn, i, "expected an array of integers");
  auto a = info[i].As<Napi::Array>();
  if (a.Length() != count)
    throw arg_error(info, fn, i, "expected " + std::to_string(count) + " integers, got " + std::to_string(a.Length()));
  std::vector<int64_t> out(count);
  for (uint32_t k = 0; k < count; ++k) {
    Napi::Value v = a.Get(k);
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= static_cast<double>(kMaxDim) && d == std::floor(d)))
      throw arg_error(info, fn, i, "element " + std::to_string(k) + " must be an integer in [0, 2^31)");
    out[k] = static_cast<int64_t>(d);
  }
  return out;
}

Napi::Object info_fn_obj(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
#if defined(CONVNET_ADDON_CUDA)
  o.Set("kind", "cuda");
  o.Set("builtWithCuda", true);
#elif defined(CONVNET_ADDON_HOST)
  o.Set("kind", "host-emulation");
  o.Set("builtWithCuda", false);
#else
  o.Set("kind", "stub");
  o.Set("builtWithCuda", false);
#endif
  o.Set("archs", CONVNET_CUDA_ARCHS);
  o.Set("buildNote", CONVNET_CUDA_BUILD_NOTE);
  return o;
}

Napi::Value info_fn(const Info& info) { return info_fn_obj(info.Env()); }

#if defined(CONVNET_ADDON_STUB)
Napi::Value probe_fn(const Info& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("runtimeVersion", 0);
  o.Set("driverVersion", 0);
  o.Set("error", -1);
  o.Set("errorName", "");
  o.Set("errorString", "");
  o.Set("devices", Napi::Array::New(info.Env()));
  return o;
}
#else
Napi::Value probe_fn(const Info& info) {
  const dev::Probe p = dev::probe();
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("runtimeVersion", p.runtime_version);
  o.Set("driverVersion", p.driver_version);
  o.Set("error", p.error);
  o.Set("errorName", p.error_name);
  o.Set("errorString", p.error_string);
  Napi::Array devs = Napi::Array::New(env, p.devices.size());
  for (size_t i = 0; i < p.devices.size(); ++i) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("name", p.devices[i].name);
    d.Set("major", p.devices[i].major);
    d.Set("minor", p.devices[i].minor);
    d.Set("multiprocessors", p.devices[i].multiprocessors);
    d.Set("totalMemory", static_cast<double>(p.devices[i].total_memory));
    devs.Set(static_cast<uint32_t>(i), d);
  }
  o.Set("devices", devs);
  return o;
}

Napi::Value num(const Info& info, double v) { return Napi::Number::New(info.Env(), v); }
Napi::Value undef(const Info& info) { return info.Env().Undefined(); }

// ---- memory, copies, streams, events
Napi::Value set_device_fn(const Info& info) {
  dev::set_device(static_cast<int>(int_arg(info, "setDevice", 0, 0, 1 << 20)));
  return undef(info);
}
Napi::Value malloc_fn(const Info& info) {
  const int64_t bytes = int_arg(info, "malloc", 0, 1);
  try {
    return num(info, static_cast<double>(reinterpret_cast<uintptr_t>(dev::malloc(static_cast<size_t>(bytes)))));
  } catch (const dev::OutOfMemory& e) {
    Napi::Error err = Napi::Error::New(info.Env(), e.what());
    err.Set("code", "CUDA_OUT_OF_MEMORY");
    throw err;
  }
}
Napi::Value free_fn(const Info& info) {
  dev::free(ptr_arg<void>(info, "free", 0));
  return undef(info);
}
Napi::Value mem_info_fn(const Info& info) {
  size_t f = 0, t = 0;
  dev::mem_info(&f, &t);
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, static_cast<double>(f));
  a.Set(1u, static_cast<double>(t));
  return a;
}
// A typed array's bytes.
struct Bytes {
  uint8_t* data;
  size_t length;
};
Bytes bytes_arg(const Info& info, const char* fn, size_t i) {
  if (i >= info.Length() || !info[i].IsTypedArray()) throw arg_error(info, fn, i, "expected a typed array");
  auto t = info[i].As<Napi::TypedArray>();
  return {static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset(), t.ByteLength()};
}
// upload(dst, typedArray, stream): the whole array's bytes
Napi::Value upload_fn(const Info& info) {
  Bytes b = bytes_arg(info, "upload", 1);
  dev::copy_h2d(ptr_arg<void>(info, "upload", 0), b.data, b.length, stream_arg(info, "upload", 2));
  return undef(info);
}
// download(typedArray, src, stream)
Napi::Value download_fn(const Info& info) {
  Bytes b = bytes_arg(info, "download", 0);
  dev::copy_d2h(b.data, ptr_arg<void>(info, "download", 1), b.length, stream_arg(info, "download", 2));
  return undef(info);
}
// copy(dst, src, bytes, stream)
Napi::Value copy_fn(const Info& info) {
  dev::copy_d2d(ptr_arg<void>(info, "copy", 0), ptr_arg<void>(info, "copy", 1),
                static_cast<size_t>(int_arg(info, "copy", 2)), stream_arg(info, "copy", 3));
  return undef(info);
}
Napi::Value memset_zero_fn(const Info& info) {
  dev::memset_zero(ptr_arg<void>(info, "memsetZero", 0), static_cast<size_t>(int_arg(info, "memsetZero", 1)),
                   stream_arg(info, "memsetZero", 2));
  return undef(info);
}
Napi::Value stream_create_fn(const Info& info) {
  return num(info, static_cast<double>(reinterpret_cast<uintptr_t>(dev::stream_create())));
}
Napi::Value stream_destroy_fn(const Info& info) {
  dev::stream_destroy(stream_arg(info, "streamDestroy", 0));
  return undef(info);
}
Napi::Value stream_sync_fn(const Info& info) {
  dev::stream_synchronize(stream_arg(info, "streamSynchronize", 0));
  return undef(info);
}
Napi::Value event_create_fn(const Info& info) {
  return num(info, static_cast<double>(reinterpret_cast<uintptr_t>(dev::event_create())));
}
Napi::Value event_record_fn(const Info& info) {
  dev::event_record(ptr_arg<void>(info, "eventRecord", 0), stream_arg(info, "eventRecord", 1));
  return undef(info);
}
Napi::Value stream_wait_fn(const Info& info) {
  dev::stream_wait_event(stream_arg(info, "streamWaitEvent", 0), ptr_arg<void>(info, "streamWaitEvent", 1));
  return undef(info);
}
Napi::Value event_sync_fn(const Info& info) {
  dev::event_synchronize(ptr_arg<void>(info, "eventSynchronize", 0));
  return undef(info);
}
Napi::Value event_destroy_fn(const Info& info) {
  dev::event_destroy(ptr_arg<void>(info, "eventDestroy", 0));
  return undef(info);
}
// hostAlloc(bytes) → ArrayBuffer in page-locked memory, freed when the buffer is collected.
Napi::Value host_alloc_fn(const Info& info) {
  const size_t bytes = static_cast<size_t>(int_arg(info, "hostAlloc", 0, 1, INT64_C(1) << 40));
  void* p = dev::host_alloc(bytes);
  return Napi::ArrayBuffer::New(info.Env(), p, bytes, [](Napi::Env, void* data) { dev::host_free(data); });
}

// ---- kernels
ConvGeom conv_geom(const Info& info, const char* fn, size_t i) {
  auto v = int_list(info, fn, i, 14);
  ConvGeom g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]};
  if (g.groups < 1 || g.c % g.groups || g.o % g.groups) throw arg_error(info, fn, i, "groups must divide c and o");
  if (g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1) throw arg_error(info, fn, i, "kernel and stride must be >= 1");
  auto ok = [](int64_t out, int64_t in, int64_t k, int64_t s, int64_t p) {
    return out == window_output_size(in, k, s, p, false) || out == window_output_size(in, k, s, p, true);
  };
  if (!ok(g.oh, g.h, g.kh, g.sh, g.ph) || !ok(g.ow, g.w, g.kw, g.sw, g.pw))
    throw arg_error(info, fn, i, "oh/ow are not the floor- or ceil-rule output size of h/w");
  return g;
}
PoolGeom pool_geom(const Info& info, const char* fn, size_t i, bool adaptive) {
  auto v = int_list(info, fn, i, 12);
  PoolGeom g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]};
  if (adaptive) {
    if ((g.oh == 0) != (g.h == 0) || (g.ow == 0) != (g.w == 0))
      throw arg_error(info, fn, i, "adaptive pooling needs oh, ow > 0 for a non-empty input");
    return g;
  }
  if (g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1) throw arg_error(info, fn, i, "kernel and stride must be >= 1");
  if (2 * g.ph > g.kh || 2 * g.pw > g.kw) throw arg_error(info, fn, i, "padding must be at most half the kernel");
  auto ok = [](int64_t out, int64_t in, int64_t k, int64_t s, int64_t p) {
    return out == window_output_size(in, k, s, p, false) || out == window_output_size(in, k, s, p, true);
  };
  if (!ok(g.oh, g.h, g.kh, g.sh, g.ph) || !ok(g.ow, g.w, g.kw, g.sw, g.pw))
    throw arg_error(info, fn, i, "oh/ow are not the floor- or ceil-rule output size of h/w");
  return g;
}

// sgemm(stream, [M, N, K, lda, ldb, ldc, batch, strideA, strideB, strideC], transA, transB, reduce, alpha, beta, A, B, C)
Napi::Value sgemm_fn(const Info& info) {
  const char* fn = "sgemm";
  auto v = int_list(info, fn, 1, 10);
  SgemmArgs a{};
  a.M = v[0]; a.N = v[1]; a.K = v[2]; a.lda = v[3]; a.ldb = v[4]; a.ldc = v[5];
  a.batch = v[6]; a.strideA = v[7]; a.strideB = v[8]; a.strideC = v[9];
  a.transA = bool_arg(info, fn, 2);
  a.transB = bool_arg(info, fn, 3);
  a.reduce = bool_arg(info, fn, 4);
  a.alpha = static_cast<float>(num_arg(info, fn, 5));
  a.beta = static_cast<float>(num_arg(info, fn, 6));
  a.A = ptr_arg(info, fn, 7);
  a.B = ptr_arg(info, fn, 8);
  a.C = ptr_arg(info, fn, 9);
  if (a.lda < (a.transA ? a.M : a.K) || a.ldb < (a.transB ? a.K : a.N) || a.ldc < a.N)
    throw arg_error(info, fn, 1, "a leading dimension is smaller than its row");
  sgemm(stream_arg(info, fn, 0), a);
  return undef(info);
}

Napi::Value conv_ws_fn(const Info& info) {
  const ConvGeom g = conv_geom(info, "convWorkspaceBytes", 0);
  return num(info, static_cast<double>(conv_workspace_bytes(g, int_arg(info, "convWorkspaceBytes", 1))));
}
// conv2dForward(stream, geom, x, w, b (0 = none), y, ws, wsBytes)
Napi::Value conv_fwd_fn(const Info& info) {
  const char* fn = "conv2dForward";
  const ConvGeom g = conv_geom(info, fn, 1);
  const size_t wsb = static_cast<size_t>(int_arg(info, fn, 7));
  if (g.n > 0 && wsb < conv_workspace_bytes(g, 1)) throw arg_error(info, fn, 7, "workspace smaller than one image's columns");
  conv2d_forward(stream_arg(info, fn, 0), g, ptr_arg(info, fn, 2), ptr_arg(info, fn, 3), ptr_arg(info, fn, 4),
                 ptr_arg(info, fn, 5), ptr_arg<void>(info, fn, 6), wsb);
  return undef(info);
}
// conv2dBackwardInput(stream, geom, dy, w, dx, ws, wsBytes)
Napi::Value conv_bwd_in_fn(const Info& info) {
  const char* fn = "conv2dBackwardInput";
  const ConvGeom g = conv_geom(info, fn, 1);
  const size_t wsb = static_cast<size_t>(int_arg(info, fn, 6));
  if (g.n > 0 && wsb < conv_workspace_bytes(g, 1)) throw arg_error(info, fn, 6, "workspace smaller than one image's columns");
  conv2d_backward_input(stream_arg(info, fn, 0), g, ptr_arg(info, fn, 2), ptr_arg(info, fn, 3), ptr_arg(info, fn, 4),
                        ptr_arg<void>(info, fn, 5), wsb);
  return undef(info);
}
// conv2dBackwardWeight(stream, geom, x, dy, dw, ws, wsBytes)
Napi::Value conv_bwd_w_fn(const Info& info) {
  const char* fn = "conv2dBackwardWeight";
  const ConvGeom g = conv_geom(info, fn, 1);
  const size_t wsb = static_cast<size_t>(int_arg(info, fn, 6));
  if (g.n > 0 && wsb < conv_workspace_bytes(g, 1)) throw arg_error(info, fn, 6, "workspace smaller than one image's columns");
  conv2d_backward_weight(stream_arg(info, fn, 0), g, ptr_arg(info, fn, 2), ptr_arg(info, fn, 3), ptr_arg(info, fn, 4),
                         ptr_arg<void>(info, fn, 5), wsb);
  return undef(info);
}
// biasAdd(stream, n, c, inner, x, b, y) / biasGrad(stream, n, c, inner, dy, db)
Napi::Value bias_add_fn(const Info& info) {
  const char* fn = "biasAdd";
  bias_add(stream_arg(info, fn, 0), int_arg(info, fn, 1), int_arg(info, fn, 2, 1), int_arg(info, fn, 3),
           ptr_arg(info, fn, 4), ptr_arg(info, fn, 5), ptr_arg(info, fn, 6));
  return undef(info);
}
Napi::Value bias_grad_fn(const Info& info) {
  const char* fn = "biasGrad";
  bias_grad(stream_arg(info, fn, 0), int_arg(info, fn, 1), int_arg(info, fn, 2), int_arg(info, fn, 3, 1),
            ptr_arg(info, fn, 4), ptr_arg(info, fn, 5));
  return undef(info);
}
// pool(stream, kind 0..5, geom, countIncludePad, a, b, out)
Napi::Value pool_fn(const Info& info) {
  const char* fn = "pool";
  const int kind = static_cast<int>(int_arg(info, fn, 1, 0, 5));
  const PoolGeom g = pool_geom(info, fn, 2, kind >= 4);
  pool(stream_arg(info, fn, 0), kind, g, bool_arg(info, fn, 3), ptr_arg(info, fn, 4), ptr_arg(info, fn, 5),
       ptr_arg(info, fn, 6));
  return undef(info);
}
LrnParams lrn_params(const Info& info, const char* fn, size_t i) {
  LrnParams p{int_arg(info, fn, i, 1, kMaxDim), static_cast<float>(num_arg(info, fn, i + 1)),
              static_cast<float>(num_arg(info, fn, i + 2)), static_cast<float>(num_arg(info, fn, i + 3))};
  return p;
}
// lrnForward(stream, n, c, plane, size, coef, beta, k, x, y, scale)
Napi::Value lrn_fwd_fn(const Info& info) {
  const char* fn = "lrnForward";
  lrn_forward(stream_arg(info, fn, 0), int_arg(info, fn, 1), int_arg(info, fn, 2), int_arg(info, fn, 3),
              lrn_params(info, fn, 4), ptr_arg(info, fn, 8), ptr_arg(info, fn, 9), ptr_arg(info, fn, 10));
  return undef(info);
}
// lrnBackward(stream, n, c, plane, size, coef, beta, k, x, y, scale, dy, dx)
Napi::Value lrn_bwd_fn(const Info& info) {
  const char* fn = "lrnBackward";
  lrn_backward(stream_arg(info, fn, 0), int_arg(info, fn, 1), int_arg(info, fn, 2), int_arg(info, fn, 3),
               lrn_params(info, fn, 4), ptr_arg(info, fn, 8), ptr_arg(info, fn, 9), ptr_arg(info, fn, 10),
               ptr_arg(info, fn, 11), ptr_arg(info, fn, 12));
  return undef(info);
}
Activation act_arg(const Info& info, const char* fn, size_t i) { return static_cast<Activation>(int_arg(info, fn, i, 0, 4)); }
// activation(stream, fn, len, x, y) / activationBackward(stream, fn, len, x, y, dy, dx)
Napi::Value act_fn(const Info& info) {
  const char* fn = "activation";
  activation_forward(stream_arg(info, fn, 0), act_arg(info, fn, 1), int_arg(info, fn, 2), ptr_arg(info, fn, 3),
                     ptr_arg(info, fn, 4));
  return undef(info);
}
Napi::Value act_bwd_fn(const Info& info) {
  const char* fn = "activationBackward";
  activation_backward(stream_arg(info, fn, 0), act_arg(info, fn, 1), int_arg(info, fn, 2), ptr_arg(info, fn, 3),
                      ptr_arg(info, fn, 4), ptr_arg(info, fn, 5), ptr_arg(info, fn, 6));
  return undef(info);
}
// dropout(stream, len, seed, streamId, offset, keepThreshold, scale, x, y, mask)
Napi::Value dropout_fn(const Info& info) {
  const char* fn = "dropout";
  dropout_forward(stream_arg(info, fn, 0), int_arg(info, fn, 1), static_cast<uint64_t>(int_arg(info, fn, 2)),
                  static_cast<uint32_t>(int_arg(info, fn, 3, 0, 0xffffffffLL)), static_cast<uint64_t>(int_arg(info, fn, 4)),
                  static_cast<uint32_t>(int_arg(info, fn, 5, 0, 1 << 24)), static_cast<float>(num_arg(info, fn, 6)),
                  ptr_arg(info, fn, 7), ptr_arg(info, fn, 8), ptr_arg(info, fn, 9));
  return undef(info);
}
// binary(stream, op 0 add / 1 mul, len, a, b, y)
Napi::Value binary_fn(const Info& info) {
  const char* fn = "binary";
  binary(stream_arg(info, fn, 0), static_cast<BinaryOp>(int_arg(info, fn, 1, 0, 1)), int_arg(info, fn, 2),
         ptr_arg(info, fn, 3), ptr_arg(info, fn, 4), ptr_arg(info, fn, 5));
  return undef(info);
}
// scale(stream, len, alpha, x, y) / axpy(stream, len, alpha, x, y)
Napi::Value scale_fn(const Info& info) {
  const char* fn = "scale";
  scale(stream_arg(info, fn, 0), int_arg(info, fn, 1), static_cast<float>(num_arg(info, fn, 2)), ptr_arg(info, fn, 3),
        ptr_arg(info, fn, 4));
  return undef(info);
}
Napi::Value axpy_fn(const Info& info) {
  const char* fn = "axpy";
  axpy(stream_arg(info, fn, 0), int_arg(info, fn, 1), static_cast<float>(num_arg(info, fn, 2)), ptr_arg(info, fn, 3),
       ptr_arg(info, fn, 4));
  return undef(info);
}
// softmax(stream, n, classes, x, y)
Napi::Value softmax_fn(const Info& info) {
  const char* fn = "softmax";
  softmax(stream_arg(info, fn, 0), int_arg(info, fn, 1), int_arg(info, fn, 2, 1), ptr_arg(info, fn, 3),
          ptr_arg(info, fn, 4));
  return undef(info);
}
Napi::Value xent_ws_fn(const Info& info) {
  return num(info, static_cast<double>(softmax_xent_workspace(int_arg(info, "softmaxXentWorkspace", 0))));
}
// softmaxXent(stream, n, classes, topk, logits, labels (int32), dlogits, ws, out (3 doubles))
Napi::Value xent_fn(const Info& info) {
  const char* fn = "softmaxXent";
  softmax_xent(stream_arg(info, fn, 0), int_arg(info, fn, 1), int_arg(info, fn, 2, 1), int_arg(info, fn, 3, 1),
               ptr_arg(info, fn, 4), ptr_arg<int32_t>(info, fn, 5), ptr_arg(info, fn, 6), ptr_arg<void>(info, fn, 7),
               ptr_arg<double>(info, fn, 8));
  return undef(info);
}
// sgdUpdate(stream, len, lr, momentum, weightDecay, dampening, nesterov, paperRule, firstStep, w, v, g)
Napi::Value sgd_fn(const Info& info) {
  const char* fn = "sgdUpdate";
  SgdParams p{static_cast<float>(num_arg(info, fn, 2)), static_cast<float>(num_arg(info, fn, 3)),
              static_cast<float>(num_arg(info, fn, 4)), static_cast<float>(num_arg(info, fn, 5)),
              bool_arg(info, fn, 6), bool_arg(info, fn, 7), bool_arg(info, fn, 8)};
  sgd_update(stream_arg(info, fn, 0), int_arg(info, fn, 1), p, ptr_arg(info, fn, 9), ptr_arg(info, fn, 10),
             ptr_arg(info, fn, 11));
  return undef(info);
}
// adamUpdate(stream, len, lr, beta1, beta2, eps, weightDecay, decoupled, stepSize, sqrtBc2, w, m, v, g)
Napi::Value adam_fn(const Info& info) {
  const char* fn = "adamUpdate";
  AdamParams p{num_arg(info, fn, 2), num_arg(info, fn, 3), num_arg(info, fn, 4), num_arg(info, fn, 5),
               num_arg(info, fn, 6), num_arg(info, fn, 8), num_arg(info, fn, 9), bool_arg(info, fn, 7)};
  adam_update(stream_arg(info, fn, 0), int_arg(info, fn, 1), p, ptr_arg(info, fn, 10), ptr_arg(info, fn, 11),
              ptr_arg(info, fn, 12), ptr_arg(info, fn, 13));
  return undef(info);
}
// softmaxBackward(stream, n, classes, y, dy, dx)
Napi::Value softmax_bwd_fn(const Info& info) {
  const char* fn = "softmaxBackward";
  softmax_backward(stream_arg(info, fn, 0), int_arg(info, fn, 1), int_arg(info, fn, 2, 1), ptr_arg(info, fn, 3),
                   ptr_arg(info, fn, 4), ptr_arg(info, fn, 5));
  return undef(info);
}
Napi::Value sum_sq_ws_fn(const Info& info) { return num(info, static_cast<double>(sum_squares_workspace())); }
// sumAndSquares(stream, len, x, ws, out (2 doubles))
Napi::Value sum_sq_fn(const Info& info) {
  const char* fn = "sumAndSquares";
  sum_and_squares(stream_arg(info, fn, 0), int_arg(info, fn, 1), ptr_arg(info, fn, 2), ptr_arg<void>(info, fn, 3),
                  ptr_arg<double>(info, fn, 4));
  return undef(info);
}
// augment(stream, [n, h, w, c, oh, ow, pad], fill, top, left, flip, light, mean, mul, padMean, meanImage (0 = none),
//         images, out)
Napi::Value augment_fn(const Info& info) {
  const char* fn = "augment";
  auto v = int_list(info, fn, 1, 7);
  AugmentGeom g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], static_cast<float>(num_arg(info, fn, 2))};
  if (g.oh > g.h + 2 * g.pad || g.ow > g.w + 2 * g.pad) throw arg_error(info, fn, 1, "the crop is larger than the padded input");
  AugmentSample s{ptr_arg<int32_t>(info, fn, 3), ptr_arg<int32_t>(info, fn, 4), ptr_arg<uint8_t>(info, fn, 5),
                  ptr_arg(info, fn, 6)};
  AugmentNorm nm{ptr_arg(info, fn, 7), ptr_arg(info, fn, 8), ptr_arg(info, fn, 9), ptr_arg(info, fn, 10)};
  augment(stream_arg(info, fn, 0), g, s, nm, ptr_arg<uint8_t>(info, fn, 11), ptr_arg(info, fn, 12));
  return undef(info);
}
#endif

// C++ errors below the binding (a failed launch, a CUDA error) become JS errors naming the call.
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
  struct Entry {
    const char* name;
    Napi::Value (*fn)(const Info&);
  };
  const Entry entries[] = {
      {"info", guarded<info_fn>},
      {"probe", guarded<probe_fn>},
#if !defined(CONVNET_ADDON_STUB)
      {"setDevice", guarded<set_device_fn>}, {"malloc", guarded<malloc_fn>}, {"free", guarded<free_fn>},
      {"memInfo", guarded<mem_info_fn>}, {"upload", guarded<upload_fn>}, {"download", guarded<download_fn>},
      {"copy", guarded<copy_fn>}, {"memsetZero", guarded<memset_zero_fn>}, {"streamCreate", guarded<stream_create_fn>},
      {"streamDestroy", guarded<stream_destroy_fn>}, {"streamSynchronize", guarded<stream_sync_fn>},
      {"eventCreate", guarded<event_create_fn>}, {"eventRecord", guarded<event_record_fn>},
      {"streamWaitEvent", guarded<stream_wait_fn>}, {"eventSynchronize", guarded<event_sync_fn>},
      {"eventDestroy", guarded<event_destroy_fn>}, {"hostAlloc", guarded<host_alloc_fn>},
      {"sgemm", guarded<sgemm_fn>}, {"convWorkspaceBytes", guarded<conv_ws_fn>}, {"conv2dForward", guarded<conv_fwd_fn>},
      {"conv2dBackwardInput", guarded<conv_bwd_in_fn>}, {"conv2dBackwardWeight", guarded<conv_bwd_w_fn>},
      {"biasAdd", guarded<bias_add_fn>}, {"biasGrad", guarded<bias_grad_fn>}, {"pool", guarded<pool_fn>},
      {"lrnForward", guarded<lrn_fwd_fn>}, {"lrnBackward", guarded<lrn_bwd_fn>}, {"activation", guarded<act_fn>},
      {"activationBackward", guarded<act_bwd_fn>}, {"dropout", guarded<dropout_fn>}, {"binary", guarded<binary_fn>},
      {"scale", guarded<scale_fn>}, {"axpy", guarded<axpy_fn>}, {"softmax", guarded<softmax_fn>},
      {"softmaxXentWorkspace", guarded<xent_ws_fn>}, {"softmaxXent", guarded<xent_fn>}, {"sgdUpdate", guarded<sgd_fn>},
      {"sumSquaresWorkspace", guarded<sum_sq_ws_fn>}, {"sumAndSquares", guarded<sum_sq_fn>},
      {"augment", guarded<augment_fn>}, {"adamUpdate", guarded<adam_fn>}, {"softmaxBackward", guarded<softmax_bwd_fn>},
#endif
  };
  for (const Entry& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  return exports;
}

}  // namespace
}  // namespace convnet::cuda::bind

Napi::Object ConvnetCudaInit(Napi::Env env, Napi::Object exports) { return convnet::cuda::bind::init(env, exports); }
NODE_API_MODULE(convnet_cuda, ConvnetCudaInit)
