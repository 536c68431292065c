// The Node-API binding, compiled three ways (CMakeLists.txt):
//   CONVNET_ADDON_CUDA  — convnet_cuda.node with the CUDA kernels (built by nvcc where a toolkit is found),
//   CONVNET_ADDON_HOST  — convnet_cuda_host.node: the same launches run by the host emulator,
//   CONVNET_ADDON_STUB  — convnet_cuda.node built without CUDA: info() and probe() only.
// Kernels follow the native ABI shared with @convnet/native (convnet/abi.h, from @convnet/native's include
// directory): one function per kernel, named as the kernel, called as kernel(stream, attrs, ...inputs,
// ...outputs[, scratch]) with attributes and sizes by name, and checked by the same argument checker.
// Device pointers cross as JS numbers (integers below 2^53: every x86-64 / CUDA UVA address is). The
// TypeScript side owns all device memory (its caching allocator) and has validated every shape; this layer
// checks that every attribute is in range and consistent, then launches.
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "../device.h"
#include "convnet/abi.h"

#ifndef CONVNET_CUDA_ARCHS
#define CONVNET_CUDA_ARCHS ""
#endif
#ifndef CONVNET_CUDA_BUILD_NOTE
#define CONVNET_CUDA_BUILD_NOTE ""
#endif

namespace convnet::cuda::bind {
namespace {

using Info = Napi::CallbackInfo;
using abi::Args;
constexpr int64_t kMaxDim = abi::kMaxDim;
constexpr int64_t kMaxSafe = abi::kMaxCount - 1;

Args args(const Info& info, const char* fn) { return Args(info, "cuda", fn); }
Napi::Error arg_error(const Info& info, const char* fn, size_t i, const std::string& msg) { return args(info, fn).error(i, msg); }
int64_t int_arg(const Info& info, const char* fn, size_t i, int64_t lo = 0, int64_t hi = kMaxSafe) {
  return args(info, fn).integer(i, lo, hi);
}
double num_arg(const Info& info, const char* fn, size_t i) { return args(info, fn).number(i); }
bool bool_arg(const Info& info, const char* fn, size_t i) { return args(info, fn).boolean(i); }
// A device address (0 = null where the argument is optional).
template <class T = float>
T* ptr_arg(const Info& info, const char* fn, size_t i) {
  return args(info, fn).ptr<T>(i);
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
    d.Set("clockKHz", p.devices[i].clock_khz);
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

// ---- kernels: kernel(stream, attrs, ...inputs, ...outputs[, scratch]) (convnet/abi.h)
Napi::Value undefined(const Args& a) { return a.env().Undefined(); }

// sgemm(stream, [M, N, K, lda, ldb, ldc, batch, strideA, strideB, strideC], transA, transB, reduce, alpha, beta, A, B, C):
// the strided, batched GEMM under conv.cpp (not a kernel of the spec; `gemm` below is).
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
  return info.Env().Undefined();
}

// gemm(stream, {transA, transB, alpha, beta, M, N, K}, a, b, c): c [M,N] = alpha·op(a)·op(b) + beta·c, contiguous rows
Napi::Value gemm_fn(const Info& info) {
  Args a(info, "cuda", "gemm");
  a.attrs(1);
  SgemmArgs g{};
  g.transA = a.bool_attr("transA");
  g.transB = a.bool_attr("transB");
  g.alpha = static_cast<float>(a.num_attr("alpha"));
  g.beta = static_cast<float>(a.num_attr("beta"));
  g.M = a.int_attr("M"); g.N = a.int_attr("N"); g.K = a.int_attr("K");
  g.lda = g.transA ? g.M : g.K; g.ldb = g.transB ? g.K : g.N; g.ldc = g.N;
  g.batch = 1;
  g.A = a.ptr(2); g.B = a.ptr(3); g.C = a.ptr(4);
  sgemm(a.ptr<void>(0), g);
  return undefined(a);
}

// conv2dWorkspaceBytes(Conv2dInfo, images): bytes of im2col columns for `images` images at once
Napi::Value conv_ws_fn(const Info& info) {
  Args a(info, "cuda", "conv2dWorkspaceBytes");
  const ConvGeom g = a.attrs(0).conv_geom();
  return Napi::Number::New(info.Env(), static_cast<double>(conv_workspace_bytes(g, a.integer(1))));
}
// conv2d(stream, Conv2dInfo, x, w, b (0 = none), y, ws, wsBytes) and the two gradients, same scratch
template <void (*Launch)(Stream, const ConvGeom&, const float*, const float*, float*, void*, size_t)>
Napi::Value conv_grad_fn(const Info& info, const char* name) {
  Args a(info, "cuda", name);
  const ConvGeom g = a.attrs(1).conv_geom();
  const size_t wsb = static_cast<size_t>(a.integer(6));
  if (g.n > 0 && wsb < conv_workspace_bytes(g, 1)) throw a.error(6, "workspace smaller than one image's columns");
  Launch(a.ptr<void>(0), g, a.ptr(2), a.ptr(3), a.ptr(4), a.ptr<void>(5), wsb);
  return undefined(a);
}
Napi::Value conv2d_fn(const Info& info) {
  Args a(info, "cuda", "conv2d");
  const ConvGeom g = a.attrs(1).conv_geom();
  const size_t wsb = static_cast<size_t>(a.integer(7));
  if (g.n > 0 && wsb < conv_workspace_bytes(g, 1)) throw a.error(7, "workspace smaller than one image's columns");
  conv2d_forward(a.ptr<void>(0), g, a.ptr(2), a.ptr(3), a.ptr(4), a.ptr(5), a.ptr<void>(6), wsb);
  return undefined(a);
}
// conv2dBackwardInput(stream, Conv2dInfo, dy, w, dx, ws, wsBytes)
Napi::Value conv2d_backward_input_fn(const Info& info) { return conv_grad_fn<conv2d_backward_input>(info, "conv2dBackwardInput"); }
// conv2dBackwardWeight(stream, Conv2dInfo, x, dy, dw, ws, wsBytes)
Napi::Value conv2d_backward_weight_fn(const Info& info) { return conv_grad_fn<conv2d_backward_weight>(info, "conv2dBackwardWeight"); }

// biasAdd(stream, {n, c, inner}, x, b, y) / conv2dBackwardBias(stream, {n, c, inner}, dy, db)
Napi::Value bias_add_fn(const Info& info) {
  Args a(info, "cuda", "biasAdd");
  a.attrs(1);
  bias_add(a.ptr<void>(0), a.len_attr("n"), a.int_attr("c", 1), a.len_attr("inner"), a.ptr(2), a.ptr(3), a.ptr(4));
  return undefined(a);
}
Napi::Value conv2d_backward_bias_fn(const Info& info) {
  Args a(info, "cuda", "conv2dBackwardBias");
  a.attrs(1);
  bias_grad(a.ptr<void>(0), a.len_attr("n"), a.len_attr("c"), a.int_attr("inner", 1, abi::kMaxCount - 1), a.ptr(2), a.ptr(3));
  return undefined(a);
}

// Pooling, each kernel by name: (stream, Pool2dInfo [& {countIncludePad}], input(s), output). The launch
// interface (launch.h) takes the pooling kind as a number; this is the only place that maps names to it.
enum PoolKind { kMaxFwd = 0, kMaxBwd = 1, kAvgFwd = 2, kAvgBwd = 3, kAdaptiveFwd = 4, kAdaptiveBwd = 5 };
template <int Kind>
Napi::Value pool_fn(const Info& info, const char* name) {
  Args a(info, "cuda", name);
  const PoolGeom g = a.attrs(1).pool_geom(Kind >= kAdaptiveFwd);
  const bool cip = (Kind == kAvgFwd || Kind == kAvgBwd) ? a.bool_attr("countIncludePad") : false;
  if (Kind == kMaxBwd) pool(a.ptr<void>(0), Kind, g, cip, a.ptr(2), a.ptr(3), a.ptr(4));  // x, dy → dx
  else pool(a.ptr<void>(0), Kind, g, cip, a.ptr(2), nullptr, a.ptr(3));
  return undefined(a);
}
Napi::Value max_pool2d_fn(const Info& info) { return pool_fn<kMaxFwd>(info, "maxPool2d"); }
Napi::Value max_pool2d_backward_fn(const Info& info) { return pool_fn<kMaxBwd>(info, "maxPool2dBackward"); }
Napi::Value avg_pool2d_fn(const Info& info) { return pool_fn<kAvgFwd>(info, "avgPool2d"); }
Napi::Value avg_pool2d_backward_fn(const Info& info) { return pool_fn<kAvgBwd>(info, "avgPool2dBackward"); }
Napi::Value adaptive_avg_pool2d_fn(const Info& info) { return pool_fn<kAdaptiveFwd>(info, "adaptiveAvgPool2d"); }
Napi::Value adaptive_avg_pool2d_backward_fn(const Info& info) {
  return pool_fn<kAdaptiveBwd>(info, "adaptiveAvgPool2dBackward");
}

// lrn(stream, {n, c, plane, size, alpha, beta, k, alphaMode}, x, y, scale)
Napi::Value lrn_fn(const Info& info) {
  Args a(info, "cuda", "lrn");
  a.attrs(1);
  lrn_forward(a.ptr<void>(0), a.len_attr("n"), a.len_attr("c"), a.len_attr("plane"), a.lrn_params(), a.ptr(2), a.ptr(3),
              a.ptr(4));
  return undefined(a);
}
// lrnBackward(stream, {n, c, plane, size, alpha, beta, k, alphaMode}, x, y, scale, dy, dx)
Napi::Value lrn_backward_fn(const Info& info) {
  Args a(info, "cuda", "lrnBackward");
  a.attrs(1);
  lrn_backward(a.ptr<void>(0), a.len_attr("n"), a.len_attr("c"), a.len_attr("plane"), a.lrn_params(), a.ptr(2),
               a.ptr(3), a.ptr(4), a.ptr(5), a.ptr(6));
  return undefined(a);
}
// activation(stream, {fn, len}, x, y) / activationBackward(stream, {fn, len}, x, y, dy, dx)
Napi::Value activation_fn(const Info& info) {
  Args a(info, "cuda", "activation");
  a.attrs(1);
  activation_forward(a.ptr<void>(0), a.enum_attr("fn", abi::kActivations), a.len_attr(), a.ptr(2), a.ptr(3));
  return undefined(a);
}
Napi::Value activation_backward_fn(const Info& info) {
  Args a(info, "cuda", "activationBackward");
  a.attrs(1);
  activation_backward(a.ptr<void>(0), a.enum_attr("fn", abi::kActivations), a.len_attr(), a.ptr(2), a.ptr(3), a.ptr(4),
                      a.ptr(5));
  return undefined(a);
}
// dropout(stream, {len, seed, stream, offset, keepThreshold, scale}, x, y, mask)
Napi::Value dropout_fn(const Info& info) {
  Args a(info, "cuda", "dropout");
  a.attrs(1);
  dropout_forward(a.ptr<void>(0), a.len_attr(), static_cast<uint64_t>(a.int_attr("seed", 0, kMaxSafe)),
                  static_cast<uint32_t>(a.int_attr("stream", 0, 0xffffffffLL)),
                  static_cast<uint64_t>(a.int_attr("offset", 0, kMaxSafe)),
                  static_cast<uint32_t>(a.int_attr("keepThreshold", 0, 1 << 24)), static_cast<float>(a.num_attr("scale")),
                  a.ptr(2), a.ptr(3), a.ptr(4));
  return undefined(a);
}
// add(stream, {len}, a, b, y) / mul(stream, {len}, a, b, y)
template <BinaryOp Op>
Napi::Value binary_fn(const Info& info, const char* name) {
  Args a(info, "cuda", name);
  binary(a.ptr<void>(0), Op, a.attrs(1).len_attr(), a.ptr(2), a.ptr(3), a.ptr(4));
  return undefined(a);
}
Napi::Value add_fn(const Info& info) { return binary_fn<BinaryOp::Add>(info, "add"); }
Napi::Value mul_fn(const Info& info) { return binary_fn<BinaryOp::Mul>(info, "mul"); }
// scale(stream, {len, alpha}, x, y) / axpy(stream, {len, alpha}, x, y)
Napi::Value scale_fn(const Info& info) {
  Args a(info, "cuda", "scale");
  a.attrs(1);
  scale(a.ptr<void>(0), a.len_attr(), static_cast<float>(a.num_attr("alpha")), a.ptr(2), a.ptr(3));
  return undefined(a);
}
Napi::Value axpy_fn(const Info& info) {
  Args a(info, "cuda", "axpy");
  a.attrs(1);
  axpy(a.ptr<void>(0), a.len_attr(), static_cast<float>(a.num_attr("alpha")), a.ptr(2), a.ptr(3));
  return undefined(a);
}
// softmax(stream, {n, classes}, x, y)
Napi::Value softmax_fn(const Info& info) {
  Args a(info, "cuda", "softmax");
  a.attrs(1);
  softmax(a.ptr<void>(0), a.len_attr("n"), a.int_attr("classes", 1), a.ptr(2), a.ptr(3));
  return undefined(a);
}
Napi::Value xent_ws_fn(const Info& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(softmax_xent_workspace(int_arg(info, "softmaxCrossEntropyWorkspace", 0))));
}
// softmaxCrossEntropy(stream, {n, classes, topk}, logits, labels (int32), dlogits, ws, out (3 doubles: loss, top-1, top-k))
Napi::Value softmax_cross_entropy_fn(const Info& info) {
  Args a(info, "cuda", "softmaxCrossEntropy");
  a.attrs(1);
  softmax_xent(a.ptr<void>(0), a.len_attr("n"), a.int_attr("classes", 1), a.int_attr("topk", 1), a.ptr(2),
               a.ptr<int32_t>(3), a.ptr(4), a.ptr<void>(5), a.ptr<double>(6));
  return undefined(a);
}
// sgdUpdate(stream, {len, lr, momentum, weightDecay, dampening, nesterov, rule, firstStep}, g, w, v): w, v in place
Napi::Value sgd_update_fn(const Info& info) {
  Args a(info, "cuda", "sgdUpdate");
  a.attrs(1);
  const int64_t len = a.len_attr();
  const SgdParams p = a.sgd_params();
  sgd_update(a.ptr<void>(0), len, p, a.ptr(3), a.ptr(4), a.ptr(2));
  return undefined(a);
}
// adamUpdate(stream, {len, lr, beta1, beta2, eps, weightDecay, decoupled, step, stepSize, sqrtBc2}, g, w, m, v):
// w, m, v in place (stepSize and sqrtBc2 come from the caller, computed as @convnet/tensor's ref does)
Napi::Value adam_update_fn(const Info& info) {
  Args a(info, "cuda", "adamUpdate");
  a.attrs(1);
  const int64_t len = a.len_attr();
  AdamParams p{a.num_attr("lr"), a.num_attr("beta1"), a.num_attr("beta2"), a.num_attr("eps"), a.num_attr("weightDecay"),
               a.num_attr("stepSize"), a.num_attr("sqrtBc2"), a.bool_attr("decoupled")};
  adam_update(a.ptr<void>(0), len, p, a.ptr(3), a.ptr(4), a.ptr(5), a.ptr(2));
  return undefined(a);
}
// softmaxBackward(stream, {n, classes}, y, dy, dx)
Napi::Value softmax_backward_fn(const Info& info) {
  Args a(info, "cuda", "softmaxBackward");
  a.attrs(1);
  softmax_backward(a.ptr<void>(0), a.len_attr("n"), a.int_attr("classes", 1), a.ptr(2), a.ptr(3), a.ptr(4));
  return undefined(a);
}
Napi::Value sum_sq_ws_fn(const Info& info) { return Napi::Number::New(info.Env(), static_cast<double>(sum_squares_workspace())); }
// sumAndSquares(stream, {len}, x, ws, out (2 doubles))
Napi::Value sum_and_squares_fn(const Info& info) {
  Args a(info, "cuda", "sumAndSquares");
  sum_and_squares(a.ptr<void>(0), a.attrs(1).len_attr(), a.ptr(2), a.ptr<void>(3), a.ptr<double>(4));
  return undefined(a);
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
      {"sgemm", guarded<sgemm_fn>}, {"conv2dWorkspaceBytes", guarded<conv_ws_fn>},
      {"softmaxCrossEntropyWorkspace", guarded<xent_ws_fn>}, {"sumAndSquaresWorkspace", guarded<sum_sq_ws_fn>},
      // the kernels, named as in packages/tensor/src/kernels.ts
      {"gemm", guarded<gemm_fn>}, {"conv2d", guarded<conv2d_fn>},
      {"conv2dBackwardInput", guarded<conv2d_backward_input_fn>},
      {"conv2dBackwardWeight", guarded<conv2d_backward_weight_fn>},
      {"conv2dBackwardBias", guarded<conv2d_backward_bias_fn>}, {"biasAdd", guarded<bias_add_fn>},
      {"maxPool2d", guarded<max_pool2d_fn>}, {"maxPool2dBackward", guarded<max_pool2d_backward_fn>},
      {"avgPool2d", guarded<avg_pool2d_fn>}, {"avgPool2dBackward", guarded<avg_pool2d_backward_fn>},
      {"adaptiveAvgPool2d", guarded<adaptive_avg_pool2d_fn>},
      {"adaptiveAvgPool2dBackward", guarded<adaptive_avg_pool2d_backward_fn>},
      {"lrn", guarded<lrn_fn>}, {"lrnBackward", guarded<lrn_backward_fn>}, {"activation", guarded<activation_fn>},
      {"activationBackward", guarded<activation_backward_fn>}, {"dropout", guarded<dropout_fn>},
      {"mul", guarded<mul_fn>}, {"softmax", guarded<softmax_fn>},
      {"softmaxCrossEntropy", guarded<softmax_cross_entropy_fn>}, {"sgdUpdate", guarded<sgd_update_fn>},
      {"add", guarded<add_fn>}, {"scale", guarded<scale_fn>}, {"axpy", guarded<axpy_fn>},
      {"sumAndSquares", guarded<sum_and_squares_fn>},
      {"adamUpdate", guarded<adam_update_fn>}, {"softmaxBackward", guarded<softmax_backward_fn>},
      {"augment", guarded<augment_fn>},
#endif
  };
  for (const Entry& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  return exports;
}

}  // namespace
}  // namespace convnet::cuda::bind

Napi::Object ConvnetCudaInit(Napi::Env env, Napi::Object exports) { return convnet::cuda::bind::init(env, exports); }
NODE_API_MODULE(convnet_cuda, ConvnetCudaInit)
