#include "convnet/threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace convnet {
namespace {

class ThreadPool {
 public:
  explicit ThreadPool(int n) { resize(n); }
  ~ThreadPool() { stop_workers(); }

  int size() const { return size_; }

  void resize(int n) {
    std::lock_guard<std::mutex> busy(busy_);
    stop_workers();
    size_ = std::max(1, n);
    stopping_ = false;
    // new workers start at the current generation, so they never run a finished (stale) job
    const uint64_t start = generation_;
    for (int i = 1; i < size_; ++i) workers_.emplace_back([this, i, start] { worker_loop(i, start); });
  }

  // Runs fn(thread_index) once on each of the pool's threads (index 0 is the caller).
  // Returns false (and runs nothing) if another JS thread holds the pool.
  bool run_on_all(const std::function<void(int)>& fn) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    if (size_ == 1) { fn(0); return true; }
    {
      std::lock_guard<std::mutex> lk(m_);
      job_ = &fn;
      pending_ = size_ - 1;
      ++generation_;
    }
    cv_.notify_all();
    fn(0);
    std::unique_lock<std::mutex> lk(m_);
    done_cv_.wait(lk, [this] { return pending_ == 0; });
    job_ = nullptr;
    return true;
  }

 private:
  void worker_loop(int index, uint64_t seen) {
    for (;;) {
      const std::function<void(int)>* job;
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        job = job_;
      }
      (*job)(index);
      {
        std::lock_guard<std::mutex> lk(m_);
        if (--pending_ == 0) done_cv_.notify_one();
      }
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex busy_;  // held for a whole parallel region
  std::mutex m_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* job_ = nullptr;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

int default_threads() {
  if (const char* env = std::getenv("CONVNET_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? static_cast<int>(hc) : 1;
}

ThreadPool& pool() {
  static ThreadPool* p = new ThreadPool(default_threads());  // leaked on purpose: no join at exit
  return *p;
}

}  // namespace

int num_threads() { return pool().size(); }
int task_threads(int64_t n) { return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(pool().size(), n))); }
void set_num_threads(int n) { pool().resize(n); }

void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  ThreadPool& p = pool();
  int t = static_cast<int>(std::min<int64_t>(p.size(), n));
  if (t <= 1) { fn(0, n, 0); return; }
  std::function<void(int)> body = [&](int i) {
    if (i >= t) return;
    int64_t b = n * i / t, e = n * (i + 1) / t;
    if (b < e) fn(b, e, i);
  };
  if (!p.run_on_all(body)) fn(0, n, 0);
}

void parallel_tasks(int64_t num_tasks, const std::function<void(int64_t, int)>& fn) {
  if (num_tasks <= 0) return;
  ThreadPool& p = pool();
  if (p.size() == 1 || num_tasks == 1) {
    for (int64_t i = 0; i < num_tasks; ++i) fn(i, 0);
    return;
  }
  // only the first min(threads, tasks) pool threads take part: thread indices stay below task_threads(num_tasks)
  const int t = static_cast<int>(std::min<int64_t>(p.size(), num_tasks));
  std::atomic<int64_t> next{0};
  std::function<void(int)> body = [&](int tid) {
    if (tid >= t) return;
    for (int64_t i = next.fetch_add(1); i < num_tasks; i = next.fetch_add(1)) fn(i, tid);
  };
  if (!p.run_on_all(body))
    for (int64_t i = 0; i < num_tasks; ++i) fn(i, 0);
}

}  // namespace convnet
