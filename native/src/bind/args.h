// Argument unpacking for the binding: every native entry point checks the JS values it gets
// (types, integer ranges, buffer lengths against the dimensions it is told) and throws a JS
// Error naming the function and argument. Kernels below this layer trust their arguments.
#pragma once
#include <napi.h>
#include <cmath>
#include <cstdint>
#include <string>

namespace convnet::bind {

struct F32 {
  float* data;
  size_t length;
};
struct I32 {
  int32_t* data;
  size_t length;
};

inline Napi::Error arg_error(const Napi::CallbackInfo& info, const char* fn, size_t i,
                             const std::string& msg) {
  return Napi::TypeError::New(info.Env(),
                              std::string("native.") + fn + ": argument " + std::to_string(i) +
                                  ": " + msg);
}

inline F32 f32(const Napi::CallbackInfo& info, const char* fn, size_t i, size_t min_length) {
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw arg_error(info, fn, i, "expected a Float32Array");
  auto a = info[i].As<Napi::Float32Array>();
  if (a.ElementLength() < min_length)
    throw arg_error(info, fn, i,
                    "Float32Array too short: need " + std::to_string(min_length) + " elements, got " +
                        std::to_string(a.ElementLength()));
  return {a.Data(), a.ElementLength()};
}

inline I32 i32arr(const Napi::CallbackInfo& info, const char* fn, size_t i, size_t min_length) {
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw arg_error(info, fn, i, "expected an Int32Array");
  auto a = info[i].As<Napi::Int32Array>();
  if (a.ElementLength() < min_length)
    throw arg_error(info, fn, i,
                    "Int32Array too short: need " + std::to_string(min_length) + " elements, got " +
                        std::to_string(a.ElementLength()));
  return {a.Data(), a.ElementLength()};
}

inline int64_t int_arg(const Napi::CallbackInfo& info, const char* fn, size_t i, int64_t lo = 0,
                       int64_t hi = INT64_C(1) << 40) {
  if (i >= info.Length() || !info[i].IsNumber()) throw arg_error(info, fn, i, "expected a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || v != std::floor(v) || v < static_cast<double>(lo) ||
      v > static_cast<double>(hi))
    throw arg_error(info, fn, i,
                    "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                        "], got " + std::to_string(v));
  return static_cast<int64_t>(v);
}

inline double num_arg(const Napi::CallbackInfo& info, const char* fn, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber()) throw arg_error(info, fn, i, "expected a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

inline bool bool_arg(const Napi::CallbackInfo& info, const char* fn, size_t i) {
  if (i >= info.Length() || !info[i].IsBoolean()) throw arg_error(info, fn, i, "expected a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

// Each src/bind/*.cpp file adds its functions to the exports object through one of these.
void register_gemm(Napi::Env env, Napi::Object exports);
void register_kernels(Napi::Env env, Napi::Object exports);
void register_perf(Napi::Env env, Napi::Object exports);  // perf.cpp: fmaPeak, matmul precision

}  // namespace convnet::bind
