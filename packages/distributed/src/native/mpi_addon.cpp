// @convnet/distributed: the Open MPI binding.
//
// Every MPI call happens on ONE communication thread that this addon owns (MPI_THREAD_FUNNELED: the thread
// that called MPI_Init_thread is the only one that calls MPI). JavaScript posts collectives to it and later
// waits for them, so a non-blocking allreduce of a gradient bucket runs on that thread while the JS thread
// carries on with backward — Open MPI has no asynchronous progress thread, so the communication thread's
// MPI_Test loop is what drives the transfer.
//
// Watchdog: each collective is posted non-blocking (MPI_Iallreduce / MPI_Ibcast / MPI_Ibarrier) and polled;
// one that has not completed within the timeout ends the whole job with MPI_Abort after printing which rank
// is missing. To name it, every rank sends the sequence number of each collective it starts to its ring
// successor (an 8-byte message): a rank whose predecessor never announced the collective it is stuck in
// names that predecessor. MPI_COMM_WORLD uses MPI_ERRORS_RETURN, so MPI errors become JS errors instead of
// aborting inside the library.
//
// Buffers are the callers' Float32Arrays (no copies); JS keeps them alive until the collective is waited on.
#include <napi.h>
#include <mpi.h>
#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kHeartbeatTag = 0x4842;  // "HB"

enum class Kind { Allreduce, Broadcast, Barrier };
enum class Reduce { Sum, Avg, Max, Min };
enum class Stop { None, Finalize, Abort };

const char* kindName(Kind k) {
  switch (k) {
    case Kind::Allreduce: return "allreduce";
    case Kind::Broadcast: return "broadcast";
    case Kind::Barrier: return "barrier";
  }
  return "?";
}

struct Op {
  Kind kind = Kind::Barrier;
  Reduce reduce = Reduce::Sum;
  float* data = nullptr;  // float32[count], the caller's memory
  int64_t count = 0;
  int root = 0;
  std::string label;
  uint64_t seq = 0;    // collective number on this communicator (same on every rank)
  bool done = false;
  std::string error;
  double seconds = 0;  // from the comm thread posting it to completion
};

std::string mpiError(int rc) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, buf, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(rc);
  return std::string(buf, len);
}

/** The ring heartbeat: which collective the predecessor has started (see the file comment). */
struct Heartbeat {
  bool on = false;
  int prev = -1, next = -1;
  uint64_t recvBuf = 0, lastPrev = 0;
  MPI_Request recvReq = MPI_REQUEST_NULL;
  std::deque<std::pair<MPI_Request, std::unique_ptr<uint64_t>>> sends;

  void start(int rank, int size) {
    if (size < 2) return;
    on = true;
    prev = (rank + size - 1) % size;
    next = (rank + 1) % size;
    MPI_Irecv(&recvBuf, 1, MPI_UINT64_T, prev, kHeartbeatTag, MPI_COMM_WORLD, &recvReq);
  }
  void poll() {
    if (!on) return;
    for (;;) {
      int flag = 0;
      if (MPI_Test(&recvReq, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS || !flag) break;
      lastPrev = std::max(lastPrev, recvBuf);
      MPI_Irecv(&recvBuf, 1, MPI_UINT64_T, prev, kHeartbeatTag, MPI_COMM_WORLD, &recvReq);
    }
    while (!sends.empty()) {
      int flag = 0;
      if (MPI_Test(&sends.front().first, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS || !flag) break;
      sends.pop_front();
    }
  }
  void announce(uint64_t seq) {
    if (!on) return;
    auto buf = std::make_unique<uint64_t>(seq);
    MPI_Request r;
    if (MPI_Isend(buf.get(), 1, MPI_UINT64_T, next, kHeartbeatTag, MPI_COMM_WORLD, &r) == MPI_SUCCESS)
      sends.emplace_back(r, std::move(buf));
    poll();
  }
  void stop() {
    if (!on) return;
    MPI_Cancel(&recvReq);
    MPI_Wait(&recvReq, MPI_STATUS_IGNORE);
    for (auto& s : sends) MPI_Wait(&s.first, MPI_STATUS_IGNORE);
    sends.clear();
    on = false;
  }
};

struct Comm {
  std::mutex mu;
  std::condition_variable cv;  // signals: ready, op done, new work, finalized
  std::deque<std::shared_ptr<Op>> queue;
  std::unordered_map<uint64_t, std::shared_ptr<Op>> ops;  // posted, not yet waited on
  uint64_t nextId = 1;
  std::thread thread;
  bool started = false, ready = false, finalized = false;
  std::string initError;
  int rank = -1, size = 0, threadLevel = 0;
  std::string host;
  double timeoutSec = 300;
  int pollUs = 20;
  Stop stop = Stop::None;
  std::atomic<bool> abortNow{false};
  int abortCode = 1;
  std::string abortMessage;
  // statistics (comm thread writes, JS reads under mu)
  uint64_t collectives = 0, bytes = 0;
  double busySec = 0;
  // comm thread only
  uint64_t seq = 0;
  Heartbeat hb;
};
// Never destroyed: a detached or idle comm thread must not outlive its mutex at process exit.
Comm& g = *new Comm();

[[noreturn]] void abortJob(int code, const std::string& message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stderr);
  // let mpirun forward this rank's last output before it tears the job down
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; this is a belt for the braces
}

std::string runOp(Op& op) {
  op.seq = ++g.seq;
  g.hb.announce(op.seq);
  const auto t0 = Clock::now();
  MPI_Request req = MPI_REQUEST_NULL;
  int rc = MPI_SUCCESS;
  const int n = static_cast<int>(op.count);
  switch (op.kind) {
    case Kind::Allreduce: {
      MPI_Op mop = op.reduce == Reduce::Max ? MPI_MAX : op.reduce == Reduce::Min ? MPI_MIN : MPI_SUM;
      rc = MPI_Iallreduce(MPI_IN_PLACE, op.data, n, MPI_FLOAT, mop, MPI_COMM_WORLD, &req);
      break;
    }
    case Kind::Broadcast: rc = MPI_Ibcast(op.data, n, MPI_FLOAT, op.root, MPI_COMM_WORLD, &req); break;
    case Kind::Barrier: rc = MPI_Ibarrier(MPI_COMM_WORLD, &req); break;
  }
  if (rc != MPI_SUCCESS) return mpiError(rc);
  unsigned spins = 0;
  for (;;) {
    int flag = 0;
    rc = MPI_Test(&req, &flag, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return mpiError(rc);
    if (flag) break;
    g.hb.poll();
    if (g.abortNow.load()) abortJob(g.abortCode, g.abortMessage);
    const double waited = std::chrono::duration<double>(Clock::now() - t0).count();
    if (waited > g.timeoutSec) {
      g.hb.poll();
      char head[512];
      std::snprintf(head, sizeof head,
                    "convnet distributed: rank %d (%s): %s '%s' (collective #%llu) did not complete within %.0f s; ",
                    g.rank, g.host.c_str(), kindName(op.kind), op.label.c_str(),
                    static_cast<unsigned long long>(op.seq), g.timeoutSec);
      std::string msg = head;
      if (g.hb.on && g.hb.lastPrev < op.seq)
        msg += "rank " + std::to_string(g.hb.prev) + " never started it (it last started collective #" +
               std::to_string(g.hb.lastPrev) + "): rank " + std::to_string(g.hb.prev) +
               " is hung, stopped or too slow";
      else
        msg += "its ring predecessor rank " + std::to_string(g.hb.prev) +
               " did start it, so the missing rank is further back (its successor names it)";
      msg += "; ending the job (MPI_Abort). Continue from the last checkpoint with --resume.";
      abortJob(3, msg);
    }
    // Spin briefly (a short collective finishes in microseconds), then poll every pollUs so a waiting rank
    // leaves the core to the compute threads (this machine has fewer cores than ranks × threads).
    if (++spins > 200) std::this_thread::sleep_for(std::chrono::microseconds(g.pollUs));
  }
  if (op.kind == Kind::Allreduce && op.reduce == Reduce::Avg && g.size > 1) {
    const float s = 1.0f / static_cast<float>(g.size);
    for (int64_t i = 0; i < op.count; i++) op.data[i] *= s;
  }
  op.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return "";
}

// Open MPI's collectives allocate scratch buffers as large as the message on every call. glibc serves
// them with fresh mmap()s (or, on this non-main thread, from a per-thread arena that returns its memory to
// the kernel), so every 244 MB allreduce page-faulted its scratch again: 5-8 s per call on the development
// VM instead of 0.5 s. So, before this thread's first allocation: no mmap for large blocks, no trimming,
// and one arena (this thread then allocates from the main heap, whose freed blocks the next call reuses).
// Opt out with CONVNET_DIST_MALLOC=default.
void keepLargeAllocations() {
  const char* e = std::getenv("CONVNET_DIST_MALLOC");
  if (e && e[0] == 'd') return;
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

void commMain() {
  keepLargeAllocations();  // first: before anything on this thread allocates
  // Open MPI loads its transports as plugins that resolve symbols against libmpi: make them global, since
  // a Node addon's libraries are loaded RTLD_LOCAL.
  dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  dlopen("libmpi.so", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  int provided = 0;
  int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  {
    std::lock_guard<std::mutex> lk(g.mu);
    if (rc != MPI_SUCCESS) {
      g.initError = "MPI_Init_thread failed: " + mpiError(rc);
    } else {
      MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
      MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
      MPI_Comm_size(MPI_COMM_WORLD, &g.size);
      g.threadLevel = provided;
    }
    g.ready = true;
  }
  g.cv.notify_all();
  if (rc != MPI_SUCCESS) return;
  g.hb.start(g.rank, g.size);

  for (;;) {
    std::shared_ptr<Op> op;
    {
      std::unique_lock<std::mutex> lk(g.mu);
      g.cv.wait(lk, [] { return !g.queue.empty() || g.stop != Stop::None; });
      if (g.stop == Stop::Abort) break;
      if (g.queue.empty()) break;  // Stop::Finalize with nothing left to run
      op = g.queue.front();
      g.queue.pop_front();
    }
    std::string err = runOp(*op);
    {
      std::lock_guard<std::mutex> lk(g.mu);
      op->error = err;
      op->done = true;
      g.collectives++;
      g.busySec += op->seconds;
      g.bytes += static_cast<uint64_t>(op->count) * 4;
    }
    g.cv.notify_all();
  }
  if (g.stop == Stop::Abort) abortJob(g.abortCode, g.abortMessage);
  g.hb.stop();
  MPI_Finalize();
  {
    std::lock_guard<std::mutex> lk(g.mu);
    g.finalized = true;
  }
  g.cv.notify_all();
}

// ---- JS API --------------------------------------------------------------------------------------------

Napi::Value LibraryVersion(const Napi::CallbackInfo& info) {
  char buf[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(buf, &len);
  std::string s(buf, len);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return Napi::String::New(info.Env(), s);
}

/** init(timeoutSec, pollUs) -> { rank, size, threadLevel, host } */
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "init(timeoutSec, pollUs): expected two numbers");
  std::unique_lock<std::mutex> lk(g.mu);
  if (g.started && g.finalized) throw Napi::Error::New(env, "mpi: already finalized in this process (MPI cannot be initialised twice)");
  if (!g.started) {
    g.timeoutSec = info[0].As<Napi::Number>().DoubleValue();
    g.pollUs = info[1].As<Napi::Number>().Int32Value();
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    g.host = host;
    g.started = true;
    lk.unlock();
    g.thread = std::thread(commMain);
    lk.lock();
  }
  g.cv.wait(lk, [] { return g.ready; });
  if (!g.initError.empty()) throw Napi::Error::New(env, g.initError);
  Napi::Object o = Napi::Object::New(env);
  o.Set("rank", g.rank);
  o.Set("size", g.size);
  o.Set("threadLevel", g.threadLevel);
  o.Set("host", g.host);
  return o;
}

void requireRunning(Napi::Env env) {
  if (!g.started || !g.ready || !g.initError.empty()) throw Napi::Error::New(env, "mpi: not initialised (call init first)");
  if (g.stop != Stop::None) throw Napi::Error::New(env, "mpi: already finalized or aborting");
}

/** post(kind: 0 allreduce | 1 broadcast | 2 barrier, data: Float32Array | null, reduce: 0 sum | 1 avg | 2 max | 3 min, root, label) -> id */
Napi::Value Post(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber() || !info[4].IsString())
    throw Napi::TypeError::New(env, "post(kind, data, reduce, root, label): bad arguments");
  auto op = std::make_shared<Op>();
  const int kind = info[0].As<Napi::Number>().Int32Value();
  if (kind < 0 || kind > 2) throw Napi::RangeError::New(env, "post: kind must be 0, 1 or 2");
  op->kind = static_cast<Kind>(kind);
  const int red = info[2].As<Napi::Number>().Int32Value();
  if (red < 0 || red > 3) throw Napi::RangeError::New(env, "post: reduce must be 0..3");
  op->reduce = static_cast<Reduce>(red);
  op->root = info[3].As<Napi::Number>().Int32Value();
  op->label = info[4].As<Napi::String>().Utf8Value();
  if (op->kind != Kind::Barrier) {
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(env, "post: data must be a Float32Array");
    auto a = info[1].As<Napi::Float32Array>();
    if (a.ElementLength() > static_cast<size_t>(INT_MAX))
      throw Napi::RangeError::New(env, "post: at most 2^31-1 elements per collective");
    op->data = a.Data();
    op->count = static_cast<int64_t>(a.ElementLength());
  }
  uint64_t id;
  {
    std::lock_guard<std::mutex> lk(g.mu);
    requireRunning(env);
    if (op->kind == Kind::Broadcast && (op->root < 0 || op->root >= g.size))
      throw Napi::RangeError::New(env, "post: root " + std::to_string(op->root) + " is not a rank of " + std::to_string(g.size));
    id = g.nextId++;
    g.ops[id] = op;
    g.queue.push_back(op);
  }
  g.cv.notify_all();
  return Napi::Number::New(env, static_cast<double>(id));
}

std::shared_ptr<Op> findOp(Napi::Env env, const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "expected an operation id");
  const uint64_t id = static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue());
  auto it = g.ops.find(id);
  if (it == g.ops.end()) throw Napi::Error::New(env, "mpi: unknown or already waited-on operation " + std::to_string(id));
  return it->second;
}

/** wait(id) -> seconds the collective took on the comm thread; throws its MPI error. */
Napi::Value Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::unique_lock<std::mutex> lk(g.mu);
  auto op = findOp(env, info);
  g.cv.wait(lk, [&] { return op->done; });
  g.ops.erase(static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue()));
  if (!op->error.empty())
    throw Napi::Error::New(env, std::string("mpi: ") + kindName(op->kind) + " '" + op->label + "' on rank " +
                                    std::to_string(g.rank) + " failed: " + op->error);
  return Napi::Number::New(env, op->seconds);
}

Napi::Value Test(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lk(g.mu);
  return Napi::Boolean::New(env, findOp(env, info)->done);
}

/** finalize(): runs what is queued, then MPI_Finalize on the comm thread; blocks until done. */
Napi::Value Finalize(const Napi::CallbackInfo& info) {
  std::unique_lock<std::mutex> lk(g.mu);
  if (!g.started || !g.initError.empty() || g.finalized) return info.Env().Undefined();
  if (g.stop == Stop::None) g.stop = Stop::Finalize;
  lk.unlock();
  g.cv.notify_all();
  if (g.thread.joinable()) g.thread.join();
  return info.Env().Undefined();
}

/** abort(code, message): prints message, MPI_Abort on the comm thread (ends every rank). Does not return. */
Napi::Value Abort(const Napi::CallbackInfo& info) {
  const int code = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1;
  const std::string msg = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  {
    std::lock_guard<std::mutex> lk(g.mu);
    if (!g.started || !g.ready || !g.initError.empty() || g.finalized) std::_Exit(code);
    g.abortCode = code;
    g.abortMessage = msg;
    g.stop = Stop::Abort;
    g.abortNow.store(true);
  }
  g.cv.notify_all();
  if (g.thread.joinable()) g.thread.join();  // the comm thread ends the process
  std::_Exit(code);
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lk(g.mu);
  Napi::Object o = Napi::Object::New(env);
  o.Set("collectives", static_cast<double>(g.collectives));
  o.Set("bytes", static_cast<double>(g.bytes));
  o.Set("busySeconds", g.busySec);
  return o;
}

Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("libraryVersion", Napi::Function::New(env, LibraryVersion));
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("post", Napi::Function::New(env, Post));
  exports.Set("wait", Napi::Function::New(env, Wait));
  exports.Set("test", Napi::Function::New(env, Test));
  exports.Set("finalize", Napi::Function::New(env, Finalize));
  exports.Set("abort", Napi::Function::New(env, Abort));
  exports.Set("stats", Napi::Function::New(env, Stats));
  return exports;
}

}  // namespace

NODE_API_MODULE(convnet_distributed, InitAddon)
