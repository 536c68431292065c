// Grow-only scratch memory for the kernels (im2col columns, per-thread partial sums, LRN window buffers).
//
// A kernel asks for all the scratch it needs once, on the calling thread, before its parallel region,
// and hands each pool thread its own slice (by thread index). So:
//  - memory is allocated when a call needs more than any call before it on this thread, never per call;
//  - an allocation failure throws std::bad_alloc on the calling thread, where the binding turns it into a
//    JS error (a throw inside a pool thread would end the process);
//  - each JS thread (worker_threads) has its own workspace, so concurrent calls never share one.
// Kernels never nest (a kernel does not call another that uses the workspace while it holds it).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace convnet {

class Workspace {
 public:
  ~Workspace() { std::free(p_); }
  // At least `floats` floats, 64-byte aligned; the contents are unspecified.
  float* get(size_t floats) {
    if (floats > n_) {
      std::free(p_);
      p_ = nullptr;
      n_ = 0;
      const size_t bytes = ((floats * sizeof(float)) + 63) & ~size_t(63);
      void* p = std::aligned_alloc(64, bytes);
      if (!p) throw std::bad_alloc();
      p_ = static_cast<float*>(p);
      n_ = bytes / sizeof(float);
    }
    return p_;
  }

 private:
  float* p_ = nullptr;
  size_t n_ = 0;
};

// The calling thread's workspace.
inline float* workspace(size_t floats) {
  thread_local Workspace ws;
  return ws.get(floats);
}

// Floats between consecutive per-thread slices of `floats` each: whole cache lines, so that threads
// writing neighbouring slices never share one.
inline size_t slice_stride(int64_t floats) { return (static_cast<size_t>(floats) + 15) & ~size_t(15); }

}  // namespace convnet
