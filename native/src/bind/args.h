// Argument unpacking for the binding's non-kernel functions (info, setNumThreads, sgemm, fmaPeak): thin
// wrappers over the one argument checker, convnet::abi::Args (include/convnet/abi.h), which the kernels use
// directly. Every JS value is checked and a bad one throws a JS Error naming the function and argument.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "convnet/abi.h"

namespace convnet::bind {

using abi::F32;
using abi::I32;

inline abi::Args args(const Napi::CallbackInfo& info, const char* fn) { return abi::Args(info, "native", fn); }

inline Napi::Error arg_error(const Napi::CallbackInfo& info, const char* fn, size_t i, const std::string& msg) {
  return args(info, fn).error(i, msg);
}
inline F32 f32(const Napi::CallbackInfo& info, const char* fn, size_t i, size_t min_length) {
  return args(info, fn).f32(i, min_length);
}
inline int64_t int_arg(const Napi::CallbackInfo& info, const char* fn, size_t i, int64_t lo = 0,
                       int64_t hi = INT64_C(1) << 40) {
  return args(info, fn).integer(i, lo, hi);
}
inline double num_arg(const Napi::CallbackInfo& info, const char* fn, size_t i) { return args(info, fn).number(i); }
inline bool bool_arg(const Napi::CallbackInfo& info, const char* fn, size_t i) { return args(info, fn).boolean(i); }

// Each src/bind/*.cpp file adds its functions to the exports object through one of these.
void register_gemm(Napi::Env env, Napi::Object exports);
void register_kernels(Napi::Env env, Napi::Object exports);
void register_perf(Napi::Env env, Napi::Object exports);  // perf.cpp: fmaPeak, matmul precision
void register_runtime(Napi::Env env, Napi::Object exports);  // runtime.cpp: the runtime table for other addons

}  // namespace convnet::bind
