// One persistent thread pool for the whole addon, sized to the cores (CONVNET_NUM_THREADS overrides).
// parallel_for splits [0, n) into contiguous chunks, one per thread, and runs them; the caller's thread
// takes part. Calls from several JS threads (worker_threads) never share the pool at once: a call that
// finds the pool busy runs its loop serially on its own thread, so results never depend on scheduling.
#pragma once
#include <cstdint>
#include <functional>

namespace convnet {

// fn(begin, end, thread_index) is called for disjoint chunks covering [0, n).
void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn);

// Same, but each of `num_tasks` task indices is handed to exactly one thread: fn(task, thread_index).
void parallel_tasks(int64_t num_tasks, const std::function<void(int64_t, int)>& fn);

int num_threads();
void set_num_threads(int n);

}  // namespace convnet
