// Bindings of the CPU kernels. Each entry point checks its geometry (integers in range, consistent) and
// that every buffer holds at least the elements that geometry implies, then calls the kernel. Element
// counts are multiplied with overflow checks, so no geometry can make a short buffer pass the length test.
#include <initializer_list>
#include <new>
#include <string>
#include <vector>

#include "args.h"
#include "convnet/kernels.h"

namespace convnet::bind {
namespace {

using Info = Napi::CallbackInfo;

// Geometry numbers (sizes, kernel, stride, padding) are at most 2^31 − 1.
constexpr int64_t kMaxDim = (INT64_C(1) << 31) - 1;
// No buffer holds 2^53 elements (JS numbers count them exactly below that).
constexpr int64_t kMaxCount = INT64_C(1) << 53;

std::vector<int64_t> int_list(const Info& info, const char* fn, size_t i, size_t count) {
  if (i >= info.Length() || !info[i].IsArray()) throw arg_error(info, fn, i, "expected an array of integers");
  auto a = info[i].As<Napi::Array>();
  if (a.Length() != count)
    throw arg_error(info, fn, i, "expected " + std::to_string(count) + " integers, got " + std::to_string(a.Length()));
  std::vector<int64_t> out(count);
  for (uint32_t k = 0; k < count; ++k) {
    Napi::Value v = a.Get(k);
    if (!v.IsNumber()) throw arg_error(info, fn, i, "element " + std::to_string(k) + " is not a number");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= static_cast<double>(kMaxDim) && d == static_cast<double>(static_cast<int64_t>(d))))
      throw arg_error(info, fn, i, "element " + std::to_string(k) + " must be an integer in [0, 2^31)");
    out[k] = static_cast<int64_t>(d);
  }
  return out;
}

// The product of `dims` (an element count), or a JS error naming argument i if it reaches 2^53.
size_t count(const Info& info, const char* fn, size_t i, std::initializer_list<int64_t> dims) {
  int64_t r = 1;
  for (int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(r, d, &r) || r >= kMaxCount)
      throw arg_error(info, fn, i, "sizes too large (their product overflows)");
  }
  return static_cast<size_t>(r);
}

// A length argument as an element count (int_arg has bounded it to [0, 2^40]).
size_t elems(int64_t len) { return static_cast<size_t>(len); }

bool one_of_size_rules(int64_t out, int64_t in, int64_t k, int64_t s, int64_t pad) {
  return out == window_output_size(in, k, s, pad, false) || out == window_output_size(in, k, s, pad, true);
}

// [n, c, h, w, o, kh, kw, sh, sw, ph, pw, groups, oh, ow]
ConvGeom conv_geom(const Info& info, const char* fn, size_t i) {
  auto v = int_list(info, fn, i, 14);
  ConvGeom g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]};
  if (g.groups < 1 || g.c % g.groups || g.o % g.groups) throw arg_error(info, fn, i, "groups must divide c and o");
  if (g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1) throw arg_error(info, fn, i, "kernel and stride must be >= 1");
  if (!one_of_size_rules(g.oh, g.h, g.kh, g.sh, g.ph) || !one_of_size_rules(g.ow, g.w, g.kw, g.sw, g.pw))
    throw arg_error(info, fn, i, "oh, ow do not follow from h, w, kernel, stride and padding (floor or ceil rule)");
  // every product a kernel forms (buffers, and the im2col matrix of one group) must be countable
  count(info, fn, i, {g.n, g.c, g.h, g.w});
  count(info, fn, i, {g.n, g.o, g.oh, g.ow});
  count(info, fn, i, {g.o, g.c / g.groups, g.kh, g.kw});
  count(info, fn, i, {g.c / g.groups, g.kh, g.kw, g.oh, g.ow});
  return g;
}

// [n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow]
PoolGeom pool_geom(const Info& info, const char* fn, size_t i, bool adaptive) {
  auto v = int_list(info, fn, i, 12);
  PoolGeom g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]};
  count(info, fn, i, {g.n, g.c, g.h, g.w});
  count(info, fn, i, {g.n, g.c, g.oh, g.ow});
  if (adaptive) {
    if ((g.h < 1 || g.w < 1 || g.oh < 1 || g.ow < 1) && g.n * g.c > 0)
      throw arg_error(info, fn, i, "adaptive pooling needs non-empty input and output");
    return g;
  }
  if (g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1) throw arg_error(info, fn, i, "window and stride must be >= 1");
  if (g.ph >= g.kh || g.pw >= g.kw) throw arg_error(info, fn, i, "padding must be smaller than the window");
  if (!one_of_size_rules(g.oh, g.h, g.kh, g.sh, g.ph) || !one_of_size_rules(g.ow, g.w, g.kw, g.sw, g.pw))
    throw arg_error(info, fn, i, "oh, ow do not follow from h, w, window, stride and padding (floor or ceil rule)");
  // every window must start inside the input (else there would be nothing to read)
  if ((g.oh > 0 && (g.oh - 1) * g.sh - g.ph >= g.h) || (g.ow > 0 && (g.ow - 1) * g.sw - g.pw >= g.w))
    throw arg_error(info, fn, i, "output size too large for the input (a window would start past the input)");
  return g;
}

Napi::Value conv2d_fn(const Info& info) {
  const char* fn = "conv2dForward";
  ConvGeom g = conv_geom(info, fn, 0);
  F32 x = f32(info, fn, 1, count(info, fn, 0, {g.n, g.c, g.h, g.w}));
  F32 w = f32(info, fn, 2, count(info, fn, 0, {g.o, g.c / g.groups, g.kh, g.kw}));
  const float* b = nullptr;
  if (!info[3].IsNull() && !info[3].IsUndefined()) b = f32(info, fn, 3, count(info, fn, 0, {g.o})).data;
  F32 y = f32(info, fn, 4, count(info, fn, 0, {g.n, g.o, g.oh, g.ow}));
  conv2d_forward(g, x.data, w.data, b, y.data);
  return info.Env().Undefined();
}

Napi::Value conv2d_bi_fn(const Info& info) {
  const char* fn = "conv2dBackwardInput";
  ConvGeom g = conv_geom(info, fn, 0);
  F32 dy = f32(info, fn, 1, count(info, fn, 0, {g.n, g.o, g.oh, g.ow}));
  F32 w = f32(info, fn, 2, count(info, fn, 0, {g.o, g.c / g.groups, g.kh, g.kw}));
  F32 dx = f32(info, fn, 3, count(info, fn, 0, {g.n, g.c, g.h, g.w}));
  conv2d_backward_input(g, dy.data, w.data, dx.data);
  return info.Env().Undefined();
}

Napi::Value conv2d_bw_fn(const Info& info) {
  const char* fn = "conv2dBackwardWeight";
  ConvGeom g = conv_geom(info, fn, 0);
  F32 x = f32(info, fn, 1, count(info, fn, 0, {g.n, g.c, g.h, g.w}));
  F32 dy = f32(info, fn, 2, count(info, fn, 0, {g.n, g.o, g.oh, g.ow}));
  F32 dw = f32(info, fn, 3, count(info, fn, 0, {g.o, g.c / g.groups, g.kh, g.kw}));
  conv2d_backward_weight(g, x.data, dy.data, dw.data);
  return info.Env().Undefined();
}

// biasGrad(n, c, inner, dy, db)
Napi::Value bias_grad_fn(const Info& info) {
  const char* fn = "biasGrad";
  int64_t n = int_arg(info, fn, 0), c = int_arg(info, fn, 1), inner = int_arg(info, fn, 2);
  F32 dy = f32(info, fn, 3, count(info, fn, 2, {n, c, inner}));
  F32 db = f32(info, fn, 4, count(info, fn, 1, {c}));
  bias_grad(n, c, inner, dy.data, db.data);
  return info.Env().Undefined();
}

// biasAdd(n, c, inner, x, b, y)
Napi::Value bias_add_fn(const Info& info) {
  const char* fn = "biasAdd";
  int64_t n = int_arg(info, fn, 0), c = int_arg(info, fn, 1), inner = int_arg(info, fn, 2);
  const size_t len = count(info, fn, 2, {n, c, inner});
  F32 x = f32(info, fn, 3, len);
  F32 b = f32(info, fn, 4, count(info, fn, 1, {c}));
  F32 y = f32(info, fn, 5, len);
  bias_add(n, c, inner, x.data, b.data, y.data);
  return info.Env().Undefined();
}

// pool(kind, geom, countIncludePad, a, b[, c]): kind 0 max fwd (x, y), 1 max bwd (x, dy, dx), 2 avg fwd (x, y),
// 3 avg bwd (dy, dx), 4 adaptive fwd (x, y), 5 adaptive bwd (dy, dx)
Napi::Value pool_fn(const Info& info) {
  const char* fn = "pool";
  int64_t kind = int_arg(info, fn, 0, 0, 5);
  PoolGeom g = pool_geom(info, fn, 1, kind >= 4);
  bool cip = bool_arg(info, fn, 2);
  const size_t in = count(info, fn, 1, {g.n, g.c, g.h, g.w}), out = count(info, fn, 1, {g.n, g.c, g.oh, g.ow});
  switch (kind) {
    case 0: max_pool_forward(g, f32(info, fn, 3, in).data, f32(info, fn, 4, out).data); break;
    case 1: max_pool_backward(g, f32(info, fn, 3, in).data, f32(info, fn, 4, out).data, f32(info, fn, 5, in).data); break;
    case 2: avg_pool_forward(g, cip, f32(info, fn, 3, in).data, f32(info, fn, 4, out).data); break;
    case 3: avg_pool_backward(g, cip, f32(info, fn, 3, out).data, f32(info, fn, 4, in).data); break;
    case 4: adaptive_avg_pool_forward(g, f32(info, fn, 3, in).data, f32(info, fn, 4, out).data); break;
    case 5: adaptive_avg_pool_backward(g, f32(info, fn, 3, out).data, f32(info, fn, 4, in).data); break;
  }
  return info.Env().Undefined();
}

LrnParams lrn_params(const Info& info, const char* fn, size_t i) {
  LrnParams p;
  p.size = int_arg(info, fn, i, 1, 1 << 20);
  p.coef = static_cast<float>(num_arg(info, fn, i + 1));
  p.beta = static_cast<float>(num_arg(info, fn, i + 2));
  p.k = static_cast<float>(num_arg(info, fn, i + 3));
  return p;
}

// lrnForward(n, c, plane, size, coef, beta, k, x, y, scale)
Napi::Value lrn_fwd_fn(const Info& info) {
  const char* fn = "lrnForward";
  int64_t n = int_arg(info, fn, 0), c = int_arg(info, fn, 1), plane = int_arg(info, fn, 2);
  LrnParams p = lrn_params(info, fn, 3);
  const size_t len = count(info, fn, 2, {n, c, plane});
  lrn_forward(n, c, plane, p, f32(info, fn, 7, len).data, f32(info, fn, 8, len).data, f32(info, fn, 9, len).data);
  return info.Env().Undefined();
}

// lrnBackward(n, c, plane, size, coef, beta, k, x, y, scale, dy, dx)
Napi::Value lrn_bwd_fn(const Info& info) {
  const char* fn = "lrnBackward";
  int64_t n = int_arg(info, fn, 0), c = int_arg(info, fn, 1), plane = int_arg(info, fn, 2);
  LrnParams p = lrn_params(info, fn, 3);
  const size_t len = count(info, fn, 2, {n, c, plane});
  lrn_backward(n, c, plane, p, f32(info, fn, 7, len).data, f32(info, fn, 8, len).data, f32(info, fn, 9, len).data,
               f32(info, fn, 10, len).data, f32(info, fn, 11, len).data);
  return info.Env().Undefined();
}

// activation(fn, len, x, y) / activationBackward(fn, len, x, y, dy, dx); fn: 0 relu 1 logistic 2 tanh 3 abs 4 softplus
Napi::Value act_fwd_fn(const Info& info) {
  const char* fn = "activation";
  auto a = static_cast<Activation>(int_arg(info, fn, 0, 0, 4));
  int64_t len = int_arg(info, fn, 1);
  const size_t L = elems(len);
  activation_forward(a, len, f32(info, fn, 2, L).data, f32(info, fn, 3, L).data);
  return info.Env().Undefined();
}

Napi::Value act_bwd_fn(const Info& info) {
  const char* fn = "activationBackward";
  auto a = static_cast<Activation>(int_arg(info, fn, 0, 0, 4));
  int64_t len = int_arg(info, fn, 1);
  const size_t L = elems(len);
  activation_backward(a, len, f32(info, fn, 2, L).data, f32(info, fn, 3, L).data, f32(info, fn, 4, L).data,
                      f32(info, fn, 5, L).data);
  return info.Env().Undefined();
}

// dropout(len, seed, stream, offset, keepThreshold, scale, x, y, mask)
Napi::Value dropout_fn(const Info& info) {
  const char* fn = "dropout";
  int64_t len = int_arg(info, fn, 0);
  auto seed = static_cast<uint64_t>(int_arg(info, fn, 1, 0, (INT64_C(1) << 53) - 1));
  auto stream = static_cast<uint32_t>(int_arg(info, fn, 2, 0, 0xffffffffLL));
  auto offset = static_cast<uint64_t>(int_arg(info, fn, 3, 0, (INT64_C(1) << 53) - 1));
  auto thr = static_cast<uint32_t>(int_arg(info, fn, 4, 0, 1 << 24));
  auto scale_v = static_cast<float>(num_arg(info, fn, 5));
  const size_t L = elems(len);
  dropout_forward(len, seed, stream, offset, thr, scale_v, f32(info, fn, 6, L).data, f32(info, fn, 7, L).data,
                  f32(info, fn, 8, L).data);
  return info.Env().Undefined();
}

// softmax(n, classes, x, y)
Napi::Value softmax_fn(const Info& info) {
  const char* fn = "softmax";
  int64_t n = int_arg(info, fn, 0), classes = int_arg(info, fn, 1, 1);
  const size_t len = count(info, fn, 1, {n, classes});
  softmax_rows(n, classes, f32(info, fn, 2, len).data, f32(info, fn, 3, len).data);
  return info.Env().Undefined();
}

// softmaxCrossEntropy(n, classes, topk, logits, labels Int32Array, dlogits, out Float32Array[3] = loss, top1, topk)
Napi::Value sce_fn(const Info& info) {
  const char* fn = "softmaxCrossEntropy";
  int64_t n = int_arg(info, fn, 0), classes = int_arg(info, fn, 1, 1), topk = int_arg(info, fn, 2, 1);
  const size_t len = count(info, fn, 1, {n, classes});
  F32 logits = f32(info, fn, 3, len);
  I32 labels = i32arr(info, fn, 4, count(info, fn, 0, {n}));
  for (int64_t r = 0; r < n; ++r)
    if (labels.data[r] < 0 || labels.data[r] >= classes)
      throw arg_error(info, fn, 4, "label " + std::to_string(labels.data[r]) + " at row " + std::to_string(r) +
                                       " is outside [0, " + std::to_string(classes) + ")");
  F32 d = f32(info, fn, 5, len);
  F32 out = f32(info, fn, 6, 3);
  double hits[2];
  double loss = softmax_cross_entropy(n, classes, topk, logits.data, labels.data, d.data, hits);
  out.data[0] = static_cast<float>(loss);
  out.data[1] = static_cast<float>(hits[0]);
  out.data[2] = static_cast<float>(hits[1]);
  return info.Env().Undefined();
}

// sgdUpdate(len, lr, momentum, weightDecay, dampening, nesterov, paperRule, firstStep, w, v, g)
Napi::Value sgd_fn(const Info& info) {
  const char* fn = "sgdUpdate";
  int64_t len = int_arg(info, fn, 0);
  SgdParams p{static_cast<float>(num_arg(info, fn, 1)), static_cast<float>(num_arg(info, fn, 2)),
              static_cast<float>(num_arg(info, fn, 3)), static_cast<float>(num_arg(info, fn, 4)),
              bool_arg(info, fn, 5), bool_arg(info, fn, 6), bool_arg(info, fn, 7)};
  const size_t L = elems(len);
  sgd_update(len, p, f32(info, fn, 8, L).data, f32(info, fn, 9, L).data, f32(info, fn, 10, L).data);
  return info.Env().Undefined();
}

// binary(op, len, a, b, y): op 0 add, 1 mul
Napi::Value binary_fn(const Info& info) {
  const char* fn = "binary";
  int64_t op = int_arg(info, fn, 0, 0, 1), len = int_arg(info, fn, 1);
  const float* a = f32(info, fn, 2, elems(len)).data;
  const float* b = f32(info, fn, 3, elems(len)).data;
  float* y = f32(info, fn, 4, elems(len)).data;
  if (op == 0) add(len, a, b, y);
  else mul(len, a, b, y);
  return info.Env().Undefined();
}

// scale(len, alpha, x, y) / axpy(len, alpha, x, y)
Napi::Value scale_fn(const Info& info) {
  const char* fn = "scale";
  int64_t len = int_arg(info, fn, 0);
  const float alpha = static_cast<float>(num_arg(info, fn, 1));
  scale(len, alpha, f32(info, fn, 2, elems(len)).data, f32(info, fn, 3, elems(len)).data);
  return info.Env().Undefined();
}

Napi::Value axpy_fn(const Info& info) {
  const char* fn = "axpy";
  int64_t len = int_arg(info, fn, 0);
  const float alpha = static_cast<float>(num_arg(info, fn, 1));
  axpy(len, alpha, f32(info, fn, 2, elems(len)).data, f32(info, fn, 3, elems(len)).data);
  return info.Env().Undefined();
}

// sumAndSquares(len, x, out): out Float32Array[2] = [Σ x, Σ x²] (accumulated in float64)
Napi::Value sum_sq_fn(const Info& info) {
  const char* fn = "sumAndSquares";
  int64_t len = int_arg(info, fn, 0);
  F32 x = f32(info, fn, 1, elems(len));
  F32 out = f32(info, fn, 2, 2);
  double r[2];
  sum_and_squares(len, x.data, r);
  out.data[0] = static_cast<float>(r[0]);
  out.data[1] = static_cast<float>(r[1]);
  return info.Env().Undefined();
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
  const Entry entries[] = {
      {"conv2dForward", guarded<conv2d_fn>}, {"conv2dBackwardInput", guarded<conv2d_bi_fn>},
      {"conv2dBackwardWeight", guarded<conv2d_bw_fn>}, {"biasGrad", guarded<bias_grad_fn>},
      {"biasAdd", guarded<bias_add_fn>}, {"pool", guarded<pool_fn>}, {"lrnForward", guarded<lrn_fwd_fn>},
      {"lrnBackward", guarded<lrn_bwd_fn>}, {"activation", guarded<act_fwd_fn>},
      {"activationBackward", guarded<act_bwd_fn>}, {"dropout", guarded<dropout_fn>}, {"softmax", guarded<softmax_fn>},
      {"softmaxCrossEntropy", guarded<sce_fn>}, {"sgdUpdate", guarded<sgd_fn>}, {"binary", guarded<binary_fn>},
      {"scale", guarded<scale_fn>}, {"axpy", guarded<axpy_fn>}, {"sumAndSquares", guarded<sum_sq_fn>},
  };
  for (const auto& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
}

}  // namespace convnet::bind
