// Bindings of the CPU kernels, one N-API function per kernel, named as the kernel (the ABI: include/convnet/
// abi.h): kernelName(attrs, ...inputs, ...outputs), attributes and sizes by name, buffers in the spec's order
// (packages/tensor/src/kernels.ts). Each checks its attributes (integers in range, geometry consistent) and
// that every buffer holds at least the elements they imply, then calls the kernel (include/convnet/kernels.h).
#include <new>
#include <string>

#include "args.h"
#include "convnet/gemm.h"
#include "convnet/kernels.h"

namespace convnet::bind {
namespace {

using Info = Napi::CallbackInfo;
using abi::Args;

Napi::Value undefined(const Args& a) { return a.env().Undefined(); }

// gemm({transA, transB, alpha, beta, M, N, K}, a, b, c): c [M,N] = alpha·op(a)·op(b) + beta·c, contiguous rows.
Napi::Value gemm_fn(const Info& info) {
  Args a(info, "native", "gemm");
  a.attrs(0);
  const bool ta = a.bool_attr("transA"), tb = a.bool_attr("transB");
  const int64_t M = a.int_attr("M"), N = a.int_attr("N"), K = a.int_attr("K");
  const float alpha = static_cast<float>(a.num_attr("alpha")), beta = static_cast<float>(a.num_attr("beta"));
  F32 A = a.f32(1, a.count({M, K})), B = a.f32(2, a.count({K, N})), C = a.f32(3, a.count({M, N}));
  sgemm(ta, tb, M, N, K, alpha, A.data, ta ? M : K, B.data, tb ? K : N, beta, C.data, N);
  return undefined(a);
}

// conv2d(Conv2dInfo, x, w, b | null, y)
Napi::Value conv2d_fn(const Info& info) {
  Args a(info, "native", "conv2d");
  const ConvGeom g = a.attrs(0).conv_geom();
  F32 x = a.f32(1, a.count({g.n, g.c, g.h, g.w}));
  F32 w = a.f32(2, a.count({g.o, g.c / g.groups, g.kh, g.kw}));
  const float* b = a.absent(3) ? nullptr : a.f32(3, a.count({g.o})).data;
  F32 y = a.f32(4, a.count({g.n, g.o, g.oh, g.ow}));
  conv2d_forward(g, x.data, w.data, b, y.data);
  return undefined(a);
}

// conv2dBackwardInput(Conv2dInfo, dy, w, dx)
Napi::Value conv2d_backward_input_fn(const Info& info) {
  Args a(info, "native", "conv2dBackwardInput");
  const ConvGeom g = a.attrs(0).conv_geom();
  F32 dy = a.f32(1, a.count({g.n, g.o, g.oh, g.ow}));
  F32 w = a.f32(2, a.count({g.o, g.c / g.groups, g.kh, g.kw}));
  F32 dx = a.f32(3, a.count({g.n, g.c, g.h, g.w}));
  conv2d_backward_input(g, dy.data, w.data, dx.data);
  return undefined(a);
}

// conv2dBackwardWeight(Conv2dInfo, x, dy, dw)
Napi::Value conv2d_backward_weight_fn(const Info& info) {
  Args a(info, "native", "conv2dBackwardWeight");
  const ConvGeom g = a.attrs(0).conv_geom();
  F32 x = a.f32(1, a.count({g.n, g.c, g.h, g.w}));
  F32 dy = a.f32(2, a.count({g.n, g.o, g.oh, g.ow}));
  F32 dw = a.f32(3, a.count({g.o, g.c / g.groups, g.kh, g.kw}));
  conv2d_backward_weight(g, x.data, dy.data, dw.data);
  return undefined(a);
}

// conv2dBackwardBias({n, c, inner}, dy, db)
Napi::Value conv2d_backward_bias_fn(const Info& info) {
  Args a(info, "native", "conv2dBackwardBias");
  a.attrs(0);
  const int64_t n = a.len_attr("n"), c = a.len_attr("c"), inner = a.len_attr("inner");
  F32 dy = a.f32(1, a.count({n, c, inner}));
  F32 db = a.f32(2, a.count({c}));
  bias_grad(n, c, inner, dy.data, db.data);
  return undefined(a);
}

// biasAdd({n, c, inner}, x, b, y)
Napi::Value bias_add_fn(const Info& info) {
  Args a(info, "native", "biasAdd");
  a.attrs(0);
  const int64_t n = a.len_attr("n"), c = a.len_attr("c"), inner = a.len_attr("inner");
  const size_t len = a.count({n, c, inner});
  F32 x = a.f32(1, len), b = a.f32(2, a.count({c})), y = a.f32(3, len);
  bias_add(n, c, inner, x.data, b.data, y.data);
  return undefined(a);
}

// Pooling: maxPool2d(Pool2dInfo, x, y), maxPool2dBackward(Pool2dInfo, x, dy, dx),
// avgPool2d(Pool2dInfo & {countIncludePad}, x, y), avgPool2dBackward(Pool2dInfo & {countIncludePad}, dy, dx),
// adaptiveAvgPool2d(Pool2dInfo, x, y), adaptiveAvgPool2dBackward(Pool2dInfo, dy, dx)
struct PoolArgs {
  Args a;
  PoolGeom g;
  size_t in, out;
  PoolArgs(const Info& info, const char* fn, bool adaptive) : a(info, "native", fn) {
    g = a.attrs(0).pool_geom(adaptive);
    in = a.count({g.n, g.c, g.h, g.w});
    out = a.count({g.n, g.c, g.oh, g.ow});
  }
};
Napi::Value max_pool2d_fn(const Info& info) {
  PoolArgs p(info, "maxPool2d", false);
  max_pool_forward(p.g, p.a.f32(1, p.in).data, p.a.f32(2, p.out).data);
  return undefined(p.a);
}
Napi::Value max_pool2d_backward_fn(const Info& info) {
  PoolArgs p(info, "maxPool2dBackward", false);
  max_pool_backward(p.g, p.a.f32(1, p.in).data, p.a.f32(2, p.out).data, p.a.f32(3, p.in).data);
  return undefined(p.a);
}
Napi::Value avg_pool2d_fn(const Info& info) {
  PoolArgs p(info, "avgPool2d", false);
  avg_pool_forward(p.g, p.a.bool_attr("countIncludePad"), p.a.f32(1, p.in).data, p.a.f32(2, p.out).data);
  return undefined(p.a);
}
Napi::Value avg_pool2d_backward_fn(const Info& info) {
  PoolArgs p(info, "avgPool2dBackward", false);
  avg_pool_backward(p.g, p.a.bool_attr("countIncludePad"), p.a.f32(1, p.out).data, p.a.f32(2, p.in).data);
  return undefined(p.a);
}
Napi::Value adaptive_avg_pool2d_fn(const Info& info) {
  PoolArgs p(info, "adaptiveAvgPool2d", true);
  adaptive_avg_pool_forward(p.g, p.a.f32(1, p.in).data, p.a.f32(2, p.out).data);
  return undefined(p.a);
}
Napi::Value adaptive_avg_pool2d_backward_fn(const Info& info) {
  PoolArgs p(info, "adaptiveAvgPool2dBackward", true);
  adaptive_avg_pool_backward(p.g, p.a.f32(1, p.out).data, p.a.f32(2, p.in).data);
  return undefined(p.a);
}

// lrn({n, c, plane, size, alpha, beta, k, alphaMode}, x, y, scale)
Napi::Value lrn_fn(const Info& info) {
  Args a(info, "native", "lrn");
  a.attrs(0);
  const int64_t n = a.len_attr("n"), c = a.len_attr("c"), plane = a.len_attr("plane");
  const LrnParams p = a.lrn_params();
  const size_t len = a.count({n, c, plane});
  lrn_forward(n, c, plane, p, a.f32(1, len).data, a.f32(2, len).data, a.f32(3, len).data);
  return undefined(a);
}

// lrnBackward({n, c, plane, size, alpha, beta, k, alphaMode}, x, y, scale, dy, dx)
Napi::Value lrn_backward_fn(const Info& info) {
  Args a(info, "native", "lrnBackward");
  a.attrs(0);
  const int64_t n = a.len_attr("n"), c = a.len_attr("c"), plane = a.len_attr("plane");
  const LrnParams p = a.lrn_params();
  const size_t len = a.count({n, c, plane});
  lrn_backward(n, c, plane, p, a.f32(1, len).data, a.f32(2, len).data, a.f32(3, len).data, a.f32(4, len).data,
               a.f32(5, len).data);
  return undefined(a);
}

// activation({fn, len}, x, y); fn: 'relu' | 'logistic' | 'tanh' | 'abs' | 'softplus'
Napi::Value activation_fn(const Info& info) {
  Args a(info, "native", "activation");
  a.attrs(0);
  const Activation fn = a.enum_attr("fn", abi::kActivations);
  const int64_t len = a.len_attr();
  activation_forward(fn, len, a.f32(1, len).data, a.f32(2, len).data);
  return undefined(a);
}

// activationBackward({fn, len}, x, y, dy, dx)
Napi::Value activation_backward_fn(const Info& info) {
  Args a(info, "native", "activationBackward");
  a.attrs(0);
  const Activation fn = a.enum_attr("fn", abi::kActivations);
  const int64_t len = a.len_attr();
  activation_backward(fn, len, a.f32(1, len).data, a.f32(2, len).data, a.f32(3, len).data, a.f32(4, len).data);
  return undefined(a);
}

// dropout({len, seed, stream, offset, keepThreshold, scale}, x, y, mask)
Napi::Value dropout_fn(const Info& info) {
  Args a(info, "native", "dropout");
  a.attrs(0);
  const int64_t len = a.len_attr();
  const auto seed = static_cast<uint64_t>(a.int_attr("seed", 0, abi::kMaxCount - 1));
  const auto stream = static_cast<uint32_t>(a.int_attr("stream", 0, 0xffffffffLL));
  const auto offset = static_cast<uint64_t>(a.int_attr("offset", 0, abi::kMaxCount - 1));
  const auto thr = static_cast<uint32_t>(a.int_attr("keepThreshold", 0, 1 << 24));
  const auto scale_v = static_cast<float>(a.num_attr("scale"));
  dropout_forward(len, seed, stream, offset, thr, scale_v, a.f32(1, len).data, a.f32(2, len).data, a.f32(3, len).data);
  return undefined(a);
}

// add({len}, a, b, y) / mul({len}, a, b, y)
template <void (*Op)(int64_t, const float*, const float*, float*)>
Napi::Value binary_fn(const Info& info, const char* name) {
  Args a(info, "native", name);
  const int64_t len = a.attrs(0).len_attr();
  Op(len, a.f32(1, len).data, a.f32(2, len).data, a.f32(3, len).data);
  return undefined(a);
}
Napi::Value add_fn(const Info& info) { return binary_fn<add>(info, "add"); }
Napi::Value mul_fn(const Info& info) { return binary_fn<mul>(info, "mul"); }

// softmax({n, classes}, x, y)
Napi::Value softmax_fn(const Info& info) {
  Args a(info, "native", "softmax");
  a.attrs(0);
  const int64_t n = a.len_attr("n"), classes = a.int_attr("classes", 1);
  const size_t len = a.count({n, classes});
  softmax_rows(n, classes, a.f32(1, len).data, a.f32(2, len).data);
  return undefined(a);
}

// softmaxCrossEntropy({n, classes, topk}, logits, labels (Int32Array), loss [1], dlogits, hits [2] = top-1, top-k)
Napi::Value softmax_cross_entropy_fn(const Info& info) {
  Args a(info, "native", "softmaxCrossEntropy");
  a.attrs(0);
  const int64_t n = a.len_attr("n"), classes = a.int_attr("classes", 1), topk = a.int_attr("topk", 1);
  const size_t len = a.count({n, classes});
  F32 logits = a.f32(1, len);
  abi::I32 labels = a.i32(2, a.count({n}));
  for (int64_t r = 0; r < n; ++r)
    if (labels.data[r] < 0 || labels.data[r] >= classes)
      throw a.error(2, "label " + std::to_string(labels.data[r]) + " at row " + std::to_string(r) + " is outside [0, " +
                           std::to_string(classes) + ")");
  F32 loss = a.f32(3, 1), d = a.f32(4, len), hits = a.f32(5, 2);
  double h[2];
  loss.data[0] = static_cast<float>(softmax_cross_entropy(n, classes, topk, logits.data, labels.data, d.data, h));
  hits.data[0] = static_cast<float>(h[0]);
  hits.data[1] = static_cast<float>(h[1]);
  return undefined(a);
}

// sgdUpdate({len, lr, momentum, weightDecay, dampening, nesterov, rule, firstStep}, g, w, v): w, v in place
Napi::Value sgd_update_fn(const Info& info) {
  Args a(info, "native", "sgdUpdate");
  a.attrs(0);
  const int64_t len = a.len_attr();
  const SgdParams p = a.sgd_params();
  F32 g = a.f32(1, len), w = a.f32(2, len), v = a.f32(3, len);
  sgd_update(len, p, w.data, v.data, g.data);
  return undefined(a);
}

// adamUpdate({len, lr, beta1, beta2, eps, weightDecay, decoupled, step, stepSize, sqrtBc2}, g, w, m, v): w, m, v in
// place; stepSize = lr / (1 − β1^step) and sqrtBc2 = √(1 − β2^step) come from the caller (computed as the reference does)
Napi::Value adam_update_fn(const Info& info) {
  Args a(info, "native", "adamUpdate");
  a.attrs(0);
  const int64_t len = a.len_attr();
  const AdamParams p{a.num_attr("lr"), a.num_attr("beta1"), a.num_attr("beta2"), a.num_attr("eps"), a.num_attr("weightDecay"),
                     a.num_attr("stepSize"), a.num_attr("sqrtBc2"), a.bool_attr("decoupled")};
  F32 g = a.f32(1, len), w = a.f32(2, len), m = a.f32(3, len), v = a.f32(4, len);
  adam_update(len, p, w.data, m.data, v.data, g.data);
  return undefined(a);
}

// softmaxBackward({n, classes}, y, dy, dx): dx = y ⊙ (dy − Σ_row dy ⊙ y)
Napi::Value softmax_backward_fn(const Info& info) {
  Args a(info, "native", "softmaxBackward");
  a.attrs(0);
  const int64_t n = a.len_attr("n"), classes = a.int_attr("classes", 1);
  const size_t len = a.count({n, classes});
  softmax_backward(n, classes, a.f32(1, len).data, a.f32(2, len).data, a.f32(3, len).data);
  return undefined(a);
}

// scale({len, alpha}, x, y) / axpy({len, alpha}, x, y): y = alpha·x / y += alpha·x
Napi::Value scale_fn(const Info& info) {
  Args a(info, "native", "scale");
  a.attrs(0);
  const int64_t len = a.len_attr();
  scale(len, static_cast<float>(a.num_attr("alpha")), a.f32(1, len).data, a.f32(2, len).data);
  return undefined(a);
}
Napi::Value axpy_fn(const Info& info) {
  Args a(info, "native", "axpy");
  a.attrs(0);
  const int64_t len = a.len_attr();
  axpy(len, static_cast<float>(a.num_attr("alpha")), a.f32(1, len).data, a.f32(2, len).data);
  return undefined(a);
}

// sumAndSquares({len}, x, y [2] = Σ x, Σ x² (accumulated in float64))
Napi::Value sum_and_squares_fn(const Info& info) {
  Args a(info, "native", "sumAndSquares");
  const int64_t len = a.attrs(0).len_attr();
  F32 x = a.f32(1, len), y = a.f32(2, 2);
  double r[2];
  sum_and_squares(len, x.data, r);
  y.data[0] = static_cast<float>(r[0]);
  y.data[1] = static_cast<float>(r[1]);
  return undefined(a);
}

// Scratch memory is taken on the calling thread before any parallel work (src/cpu/workspace.h), so running
// out of it is a JS error, not the end of the process.
template <Napi::Value (*F)(const Info&)>
Napi::Value guarded(const Info& info) {
  try {
    return F(info);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "native kernel: out of memory for its scratch buffers");
  }
}

}  // namespace

void register_kernels(Napi::Env env, Napi::Object exports) {
  struct Entry { const char* name; Napi::Value (*fn)(const Info&); };
  // Every name is a kernel's name in packages/tensor/src/kernels.ts.
  const Entry entries[] = {
      {"gemm", guarded<gemm_fn>},
      {"conv2d", guarded<conv2d_fn>},
      {"conv2dBackwardInput", guarded<conv2d_backward_input_fn>},
      {"conv2dBackwardWeight", guarded<conv2d_backward_weight_fn>},
      {"conv2dBackwardBias", guarded<conv2d_backward_bias_fn>},
      {"biasAdd", guarded<bias_add_fn>},
      {"maxPool2d", guarded<max_pool2d_fn>},
      {"maxPool2dBackward", guarded<max_pool2d_backward_fn>},
      {"avgPool2d", guarded<avg_pool2d_fn>},
      {"avgPool2dBackward", guarded<avg_pool2d_backward_fn>},
      {"adaptiveAvgPool2d", guarded<adaptive_avg_pool2d_fn>},
      {"adaptiveAvgPool2dBackward", guarded<adaptive_avg_pool2d_backward_fn>},
      {"lrn", guarded<lrn_fn>},
      {"lrnBackward", guarded<lrn_backward_fn>},
      {"activation", guarded<activation_fn>},
      {"activationBackward", guarded<activation_backward_fn>},
      {"dropout", guarded<dropout_fn>},
      {"mul", guarded<mul_fn>},
      {"softmax", guarded<softmax_fn>},
      {"softmaxCrossEntropy", guarded<softmax_cross_entropy_fn>},
      {"sgdUpdate", guarded<sgd_update_fn>}, {"adamUpdate", guarded<adam_update_fn>},
      {"softmaxBackward", guarded<softmax_backward_fn>},
      {"add", guarded<add_fn>},
      {"scale", guarded<scale_fn>},
      {"axpy", guarded<axpy_fn>},
      {"sumAndSquares", guarded<sum_and_squares_fn>},
  };
  for (const auto& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
}

}  // namespace convnet::bind
