// Grow-only scratch memory for the kernels (im2col columns, per-thread partial sums, LRN window buffers).
//
// A kernel asks for all the scratch it needs once, on the calling thread, before its parallel region,
// and hands each pool thread its own slice (by thread index, below task_threads(tasks): threadpool.h). So:
//  - memory is allocated when a call needs more than any call before it on this thread, never per call;
//  - an allocation failure throws std::bad_alloc on the calling thread, where the binding turns it into a
//    JS error (a throw inside a pool thread would end the process);
//  - each JS thread (worker_threads) has its own workspace, so concurrent calls never share one.
// Kernels never nest (a kernel does not call another that uses the workspace while it holds it).
//
// Exact-size mode (CONVNET_EXACT_ALLOC=1, and always in a sanitizer build: CONVNET_SANITIZE at build time):
// every request gets a block of exactly the size asked for, freed and allocated anew on each request, so nothing
// rounds a buffer up or keeps a larger one from an earlier call. Under AddressSanitizer the first byte past the
// request is then a red zone; without it, a guard of kGuardBytes follows the block and is checked when the block
// is given up (the next request, or thread exit): a kernel that wrote past its scratch aborts the process with a
// message naming the buffer, instead of corrupting the heap silently.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define CONVNET_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CONVNET_ASAN 1
#endif
#endif

namespace convnet {

// True when scratch buffers are exact-size (see above); read once per process.
inline bool exact_alloc() {
  static const bool on = [] {
#ifdef CONVNET_SANITIZE_BUILD
    return true;
#else
    const char* e = std::getenv("CONVNET_EXACT_ALLOC");
    return e && *e && std::strcmp(e, "0") != 0;
#endif
  }();
  return on;
}

// One grow-only (or, in exact-size mode, exact) block of floats, aligned to `align` bytes.
class ScratchBlock {
 public:
  explicit ScratchBlock(const char* name) : name_(name) {}
  ~ScratchBlock() { release(); }
  ScratchBlock(const ScratchBlock&) = delete;
  ScratchBlock& operator=(const ScratchBlock&) = delete;

  // At least `floats` floats (exactly that many in exact-size mode); the contents are unspecified.
  // `round` (a power of two, >= align) is what the grow-only mode rounds the byte size up to.
  float* get(size_t floats, size_t align = 64, size_t round = 64) {
    if (exact_alloc()) {
      release();
      return allocate(floats, align, floats * sizeof(float), true);
    }
    if (floats > n_) {
      release();
      const size_t bytes = (floats * sizeof(float) + round - 1) & ~(round - 1);
      allocate(bytes / sizeof(float), align, bytes, false);
    }
    return p_;
  }

 private:
  static constexpr size_t kGuardBytes = 256;
  static constexpr unsigned char kGuard = 0xA5;
#ifdef CONVNET_ASAN
  static constexpr size_t kGuardSize = 0;  // ASan's red zone is the guard
#else
  static constexpr size_t kGuardSize = kGuardBytes;
#endif

  float* allocate(size_t floats, size_t align, size_t bytes, bool exact) {
    const size_t guard = exact ? kGuardSize : 0;
    void* p = nullptr;
    if (posix_memalign(&p, align, (bytes ? bytes : 1) + guard) != 0 || !p) throw std::bad_alloc();
    if (guard) std::memset(static_cast<char*>(p) + bytes, kGuard, guard);
    p_ = static_cast<float*>(p);
    n_ = floats;
    guarded_ = guard != 0;
    return p_;
  }

  void release() {
    if (p_ && guarded_) {
      const unsigned char* g = reinterpret_cast<const unsigned char*>(p_ + n_);
      for (size_t i = 0; i < kGuardSize; ++i)
        if (g[i] != kGuard) {
          std::fprintf(stderr,
                       "convnet: a kernel wrote past its %s scratch buffer (%zu floats; byte %zu past the end was "
                       "overwritten): aborting\n",
                       name_, n_, i);
          std::abort();
        }
    }
    std::free(p_);
    p_ = nullptr;
    n_ = 0;
    guarded_ = false;
  }

  const char* name_;
  float* p_ = nullptr;
  size_t n_ = 0;
  bool guarded_ = false;
};

// The calling thread's workspace: at least `floats` floats, 64-byte aligned.
inline float* workspace(size_t floats) {
  thread_local ScratchBlock ws("workspace");
  return ws.get(floats);
}

// Floats between consecutive per-thread slices of `floats` each: whole cache lines, so that threads
// writing neighbouring slices never share one.
inline size_t slice_stride(int64_t floats) { return (static_cast<size_t>(floats) + 15) & ~size_t(15); }

}  // namespace convnet
