// The native ABI of convnet's kernels, shared by every Node-API binding: @convnet/native (src/bind, CPU),
// @convnet/cuda (src/bind: the CUDA addon and its host emulator) and contributed kernel packages. One N-API
// function per kernel, named exactly as the kernel's spec (packages/tensor/src/kernels.ts), called as
//
//   cpu:   kernelName(attrs, ...inputs, ...outputs)                      buffers: Float32Array / Int32Array
//   cuda:  kernelName(stream, attrs, ...inputs, ...outputs[, scratch])   buffers: device addresses (numbers)
//
// `attrs` is one object holding the kernel's attributes under their spec names (LRN's {size, alpha, beta, k,
// alphaMode}, activation's {fn}; enums as the spec's strings) plus the sizes the kernel needs, also by name
// (Conv2dInfo / Pool2dInfo fields, or {n, c, inner}, {len}); inputs and outputs follow the spec's order.
// Nothing crosses by position that has a name, so a kernel's name and attribute names reach its C++ code.
//
// `Args` is the one argument checker: every JS value is checked (types, integer ranges, geometry consistency,
// buffer lengths against the element counts the sizes imply, products overflow-checked) and a bad one throws a
// JS TypeError naming the addon, function, and argument or attribute. Kernels below the binding trust what
// they get.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "convnet/kernels/elementwise.h"
#include "convnet/kernels/geometry.h"
#include "convnet/kernels/lrn.h"

namespace convnet::abi {

// Geometry numbers (sizes, kernel, stride, padding) are at most 2^31 − 1.
constexpr int64_t kMaxDim = (INT64_C(1) << 31) - 1;
// No buffer holds 2^53 elements (JS numbers count them exactly below that).
constexpr int64_t kMaxCount = INT64_C(1) << 53;

// ---- named enums: the spec's strings and their C++ values
template <class E>
struct Named {
  const char* name;
  E value;
};
inline constexpr Named<Activation> kActivations[] = {
    {"relu", Activation::Relu}, {"logistic", Activation::Logistic}, {"tanh", Activation::Tanh},
    {"abs", Activation::Abs}, {"softplus", Activation::Softplus}};
enum class LrnAlphaMode { DivideBySize, Paper };
inline constexpr Named<LrnAlphaMode> kLrnAlphaModes[] = {{"divide-by-size", LrnAlphaMode::DivideBySize},
                                                         {"paper", LrnAlphaMode::Paper}};
enum class SgdRule { Pytorch, Paper };
inline constexpr Named<SgdRule> kSgdRules[] = {{"pytorch", SgdRule::Pytorch}, {"paper", SgdRule::Paper}};

struct F32 {
  float* data;
  size_t length;
};
struct I32 {
  int32_t* data;
  size_t length;
};

class Args {
 public:
  // addon: "native", "cuda", or a kernel package's name; fn: the kernel (N-API function) name.
  Args(const Napi::CallbackInfo& info, const char* addon, const char* fn) : info_(info), addon_(addon), fn_(fn) {}

  const Napi::CallbackInfo& info() const { return info_; }
  Napi::Env env() const { return info_.Env(); }
  size_t length() const { return info_.Length(); }

  Napi::Error error(size_t i, const std::string& msg) const {
    return Napi::TypeError::New(env(), std::string(addon_) + "." + fn_ + ": argument " + std::to_string(i) + ": " + msg);
  }
  Napi::Error attr_error(const char* name, const std::string& msg) const {
    return Napi::TypeError::New(env(), std::string(addon_) + "." + fn_ + ": attribute '" + name + "': " + msg);
  }

  // ---- positional values
  int64_t integer(size_t i, int64_t lo = 0, int64_t hi = INT64_C(1) << 40) const {
    if (i >= length() || !info_[i].IsNumber()) throw error(i, "expected a number");
    return checked_int(info_[i].As<Napi::Number>().DoubleValue(), lo, hi, [&](const std::string& m) { return error(i, m); });
  }
  double number(size_t i) const {
    if (i >= length() || !info_[i].IsNumber()) throw error(i, "expected a number");
    return info_[i].As<Napi::Number>().DoubleValue();
  }
  bool boolean(size_t i) const {
    if (i >= length() || !info_[i].IsBoolean()) throw error(i, "expected a boolean");
    return info_[i].As<Napi::Boolean>().Value();
  }
  bool absent(size_t i) const { return i >= length() || info_[i].IsNull() || info_[i].IsUndefined(); }

  // A Float32Array of at least min_length elements.
  F32 f32(size_t i, size_t min_length) const {
    if (i >= length() || !info_[i].IsTypedArray() || info_[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw error(i, "expected a Float32Array");
    auto a = info_[i].As<Napi::Float32Array>();
    if (a.ElementLength() < min_length)
      throw error(i, "Float32Array too short: need " + std::to_string(min_length) + " elements, got " +
                         std::to_string(a.ElementLength()));
    return {a.Data(), a.ElementLength()};
  }
  I32 i32(size_t i, size_t min_length) const {
    if (i >= length() || !info_[i].IsTypedArray() || info_[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw error(i, "expected an Int32Array");
    auto a = info_[i].As<Napi::Int32Array>();
    if (a.ElementLength() < min_length)
      throw error(i, "Int32Array too short: need " + std::to_string(min_length) + " elements, got " +
                         std::to_string(a.ElementLength()));
    return {a.Data(), a.ElementLength()};
  }
  // A device address crossing as a JS number (0 = none where the argument is optional).
  template <class T = float>
  T* ptr(size_t i) const {
    return reinterpret_cast<T*>(static_cast<uintptr_t>(integer(i, 0, kMaxCount - 1)));
  }

  // ---- the attributes object (argument i), read by name
  Args& attrs(size_t i) {
    if (i >= length() || !info_[i].IsObject() || info_[i].IsArray() || info_[i].IsTypedArray())
      throw error(i, "expected the attributes object");
    attrs_ = info_[i].As<Napi::Object>();
    return *this;
  }
  int64_t int_attr(const char* name, int64_t lo = 0, int64_t hi = kMaxDim) const {
    Napi::Value v = attrs_.Get(name);
    if (!v.IsNumber()) throw attr_error(name, "expected a number");
    return checked_int(v.As<Napi::Number>().DoubleValue(), lo, hi, [&](const std::string& m) { return attr_error(name, m); });
  }
  // Element counts (len) may exceed 2^31.
  int64_t len_attr(const char* name = "len") const { return int_attr(name, 0, kMaxCount - 1); }
  double num_attr(const char* name) const {
    Napi::Value v = attrs_.Get(name);
    if (!v.IsNumber()) throw attr_error(name, "expected a number");
    return v.As<Napi::Number>().DoubleValue();
  }
  bool bool_attr(const char* name) const {
    Napi::Value v = attrs_.Get(name);
    if (!v.IsBoolean()) throw attr_error(name, "expected a boolean");
    return v.As<Napi::Boolean>().Value();
  }
  template <class E, size_t N>
  E enum_attr(const char* name, const Named<E> (&table)[N]) const {
    Napi::Value v = attrs_.Get(name);
    std::string options;
    if (v.IsString()) {
      const std::string s = v.As<Napi::String>().Utf8Value();
      for (const auto& e : table)
        if (s == e.name) return e.value;
    }
    for (const auto& e : table) options += std::string(options.empty() ? "" : ", ") + "'" + e.name + "'";
    throw attr_error(name, "expected one of " + options);
  }

  // ---- kernel attributes shared by several kernels
  // Conv2dInfo {n, c, h, w, o, kh, kw, sh, sw, ph, pw, groups, oh, ow}, checked for consistency.
  ConvGeom conv_geom() const {
    ConvGeom g{int_attr("n"), int_attr("c"), int_attr("h"), int_attr("w"), int_attr("o"), int_attr("kh"),
               int_attr("kw"), int_attr("sh"), int_attr("sw"), int_attr("ph"), int_attr("pw"), int_attr("groups"),
               int_attr("oh"), int_attr("ow")};
    if (g.groups < 1 || g.c % g.groups || g.o % g.groups) throw attr_error("groups", "must divide c and o");
    if (g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1) throw attr_error("kh", "kernel and stride must be >= 1");
    if (!size_rule(g.oh, g.h, g.kh, g.sh, g.ph) || !size_rule(g.ow, g.w, g.kw, g.sw, g.pw))
      throw attr_error("oh", "oh, ow do not follow from h, w, kernel, stride and padding (floor or ceil rule)");
    // every product a kernel forms (buffers, and the im2col matrix of one group) must be countable
    count({g.n, g.c, g.h, g.w});
    count({g.n, g.o, g.oh, g.ow});
    count({g.o, g.c / g.groups, g.kh, g.kw});
    count({g.c / g.groups, g.kh, g.kw, g.oh, g.ow});
    return g;
  }
  // Pool2dInfo {n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow}; adaptive pooling leaves kh..pw at 0.
  PoolGeom pool_geom(bool adaptive) const {
    PoolGeom g{int_attr("n"), int_attr("c"), int_attr("h"), int_attr("w"), int_attr("kh"), int_attr("kw"),
               int_attr("sh"), int_attr("sw"), int_attr("ph"), int_attr("pw"), int_attr("oh"), int_attr("ow")};
    count({g.n, g.c, g.h, g.w});
    count({g.n, g.c, g.oh, g.ow});
    if (adaptive) {
      if ((g.h < 1 || g.w < 1 || g.oh < 1 || g.ow < 1) && g.n * g.c > 0)
        throw attr_error("oh", "adaptive pooling needs non-empty input and output");
      return g;
    }
    if (g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1) throw attr_error("kh", "window and stride must be >= 1");
    if (2 * g.ph > g.kh || 2 * g.pw > g.kw) throw attr_error("ph", "padding must be at most half the window");
    if (!size_rule(g.oh, g.h, g.kh, g.sh, g.ph) || !size_rule(g.ow, g.w, g.kw, g.sw, g.pw))
      throw attr_error("oh", "oh, ow do not follow from h, w, window, stride and padding (floor or ceil rule)");
    // every window must start inside the input (else there would be nothing to read)
    if ((g.oh > 0 && (g.oh - 1) * g.sh - g.ph >= g.h) || (g.ow > 0 && (g.ow - 1) * g.sw - g.pw >= g.w))
      throw attr_error("oh", "output size too large for the input (a window would start past the input)");
    return g;
  }
  // LRN {size, alpha, beta, k, alphaMode}: coef = α/size ('divide-by-size') or α ('paper').
  LrnParams lrn_params() const {
    LrnParams p;
    p.size = int_attr("size", 1, 1 << 20);
    const double alpha = num_attr("alpha");
    const LrnAlphaMode mode = enum_attr("alphaMode", kLrnAlphaModes);
    p.coef = static_cast<float>(mode == LrnAlphaMode::Paper ? alpha : alpha / static_cast<double>(p.size));
    p.beta = static_cast<float>(num_attr("beta"));
    p.k = static_cast<float>(num_attr("k"));
    return p;
  }
  // sgdUpdate {lr, momentum, weightDecay, dampening, nesterov, rule, firstStep}
  SgdParams sgd_params() const {
    return SgdParams{static_cast<float>(num_attr("lr")), static_cast<float>(num_attr("momentum")),
                     static_cast<float>(num_attr("weightDecay")), static_cast<float>(num_attr("dampening")),
                     bool_attr("nesterov"), enum_attr("rule", kSgdRules) == SgdRule::Paper, bool_attr("firstStep")};
  }

  // The product of `dims` (an element count), or a JS error if it reaches 2^53.
  size_t count(std::initializer_list<int64_t> dims) const {
    int64_t r = 1;
    for (int64_t d : dims) {
      if (d < 0 || __builtin_mul_overflow(r, d, &r) || r >= kMaxCount)
        throw Napi::TypeError::New(env(), std::string(addon_) + "." + fn_ + ": sizes too large (their product overflows)");
    }
    return static_cast<size_t>(r);
  }

 private:
  template <class MakeError>
  static int64_t checked_int(double v, int64_t lo, int64_t hi, MakeError make) {
    if (!std::isfinite(v) || v != std::floor(v) || v < static_cast<double>(lo) || v > static_cast<double>(hi))
      throw make("expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + std::to_string(v));
    return static_cast<int64_t>(v);
  }
  static bool size_rule(int64_t out, int64_t in, int64_t k, int64_t s, int64_t pad) {
    return out == window_output_size(in, k, s, pad, false) || out == window_output_size(in, k, s, pad, true);
  }

  const Napi::CallbackInfo& info_;
  const char* addon_;
  const char* fn_;
  Napi::Object attrs_;
};

}  // namespace convnet::abi
