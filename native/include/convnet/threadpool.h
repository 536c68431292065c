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
//
// Thread indices: in both functions thread_index < task_threads(n) = min(num_threads(), n), so per-thread
// scratch sized for task_threads(n) slices is enough (a pool larger than the work leaves its extra threads idle).
// Which thread runs which task in parallel_tasks depends on scheduling: a kernel's result must not depend on
// thread_index (only its scratch slice does); results are deterministic for a given thread count.
void parallel_tasks(int64_t num_tasks, const std::function<void(int64_t, int)>& fn);

// How many threads (and so per-thread scratch slices) a parallel_for / parallel_tasks over n items uses: at
// least 1, at most num_threads().
int task_threads(int64_t n);

int num_threads();
void set_num_threads(int n);

}  // namespace convnet
