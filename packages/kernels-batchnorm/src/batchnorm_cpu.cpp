// The CPU addon's thread pool and instruction-set dispatch (batchnorm_cpu.h).
#include "batchnorm_cpu.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace convnet::batchnorm::cpu {
namespace {

constexpr int kMaxThreads = 1024;
// Below this many values per thread a wake-up costs more than it saves.
constexpr int64_t kMinWorkPerThread = 32 * 1024;

// Persistent workers 1..size-1 (the caller is thread 0); grown on demand, never shrunk, leaked at exit (no join).
class Pool {
 public:
  // Runs fn(i) for i in [0, t) on t threads; false (nothing run) if another JS thread holds the pool.
  bool run(int t, const std::function<void(int)>& fn) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    while (static_cast<int>(workers_.size()) < t - 1) {
      const int index = static_cast<int>(workers_.size()) + 1;
      uint64_t start;
      {
        std::lock_guard<std::mutex> lk(m_);
        start = generation_;
      }
      workers_.emplace_back([this, index, start] { loop(index, start); });
    }
    {
      std::lock_guard<std::mutex> lk(m_);
      job_ = &fn;
      active_ = t;
      pending_ = t - 1;
      ++generation_;
    }
    cv_.notify_all();
    fn(0);
    std::unique_lock<std::mutex> lk(m_);
    done_.wait(lk, [this] { return pending_ == 0; });
    job_ = nullptr;
    return true;
  }

 private:
  void loop(int index, uint64_t seen) {
    for (;;) {
      const std::function<void(int)>* job;
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return generation_ != seen; });
        seen = generation_;
        if (index >= active_) continue;  // not needed for this job
        job = job_;
      }
      (*job)(index);
      std::lock_guard<std::mutex> lk(m_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex busy_;  // held for a whole parallel region
  std::mutex m_;
  std::condition_variable cv_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int active_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
};

Pool& pool() {
  static Pool* p = new Pool();  // leaked on purpose: workers are never joined at exit
  return *p;
}

bool use_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool v = [] {
    const char* cap = std::getenv("CONVNET_ISA");
    if (cap && std::strcmp(cap, "generic") == 0) return false;
    __builtin_cpu_init();
    return static_cast<bool>(__builtin_cpu_supports("avx2"));
  }();
  return v;
#else
  return false;
#endif
}

}  // namespace

const char* isa() { return use_avx2() ? "avx2" : "generic"; }

int default_threads() {
  static const int n = [] {
    if (const char* env = std::getenv("CONVNET_NUM_THREADS")) {
      const int v = std::atoi(env);
      if (v > 0) return std::min(v, kMaxThreads);
    }
    const unsigned hc = std::thread::hardware_concurrency();
    return hc ? static_cast<int>(std::min<unsigned>(hc, kMaxThreads)) : 1;
  }();
  return n;
}

void parallel_channels(int64_t c, int threads, int64_t work, const std::function<void(int64_t, int64_t)>& fn) {
  if (c <= 0) return;
  const int64_t by_work = std::max<int64_t>(1, work / kMinWorkPerThread);
  const int t = static_cast<int>(std::min<int64_t>({static_cast<int64_t>(std::clamp(threads, 1, kMaxThreads)), c, by_work}));
  if (t <= 1) return fn(0, c);
  const std::function<void(int)> body = [&](int i) { fn(c * i / t, c * (i + 1) / t); };
  if (!pool().run(t, body)) fn(0, c);
}

void train(const Dims& d, int threads, float eps, float momentum, const float* x, const float* weight, const float* bias,
           float* y, float* save_mean, float* save_inv_std, float* running_mean, float* running_var) {
  const auto f = use_avx2() ? avx2::train_channels : generic::train_channels;
  parallel_channels(d.c, threads, d.n * d.c * d.plane, [&](int64_t c0, int64_t c1) {
    f(c0, c1, d, eps, momentum, x, weight, bias, y, save_mean, save_inv_std, running_mean, running_var);
  });
}

void inference(const Dims& d, int threads, float eps, const float* x, const float* weight, const float* bias,
               const float* running_mean, const float* running_var, float* y) {
  const auto f = use_avx2() ? avx2::inference_channels : generic::inference_channels;
  parallel_channels(d.c, threads, d.n * d.c * d.plane,
                    [&](int64_t c0, int64_t c1) { f(c0, c1, d, eps, x, weight, bias, running_mean, running_var, y); });
}

void backward(const Dims& d, int threads, const float* x, const float* dy, const float* weight, const float* save_mean,
              const float* save_inv_std, float* dx, float* dweight, float* dbias) {
  const auto f = use_avx2() ? avx2::backward_channels : generic::backward_channels;
  parallel_channels(d.c, threads, 2 * d.n * d.c * d.plane, [&](int64_t c0, int64_t c1) {
    f(c0, c1, d, x, dy, weight, save_mean, save_inv_std, dx, dweight, dbias);
  });
}

}  // namespace convnet::batchnorm::cpu
