// SGEMM entry points: picks the packed engine for the CPU (AVX-512, AVX2 + FMA) at run time, splits
// the work over the thread pool, and owns the per-thread packing buffers. The portable loops below
// are the fallback for CPUs without AVX2 (or CONVNET_ISA=generic).
#include "convnet/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include <sys/mman.h>

#include "convnet/cpu_features.h"
#include "convnet/threadpool.h"
#include "workspace.h"
#include "gemm_engine.h"

namespace convnet {

// ---------------------------------------------------------------------------------------------
// Portable GEMM: simple loops, correct on any CPU.

// bf16 rounding (round to nearest even, NaN kept) for the portable bf16 emulation.
static inline float to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u = (u & 0x7fffffffu) > 0x7f800000u ? (u | 0x00400000u) & 0xffff0000u : (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&f, &u, 4);
  return f;
}

template <bool BF16>
static void gemm_rows(bool transA, bool transB, int64_t m0, int64_t m1, int64_t N, int64_t K,
                      float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
                      float beta, float* C, int64_t ldc) {
  if constexpr (BF16) {  // products of rounded inputs summed in k order (float32), then alpha, beta
    for (int64_t i = m0; i < m1; ++i)
      for (int64_t j = 0; j < N; ++j) {
        float acc = 0.f;
        for (int64_t k = 0; k < K; ++k)
          acc = __builtin_fmaf(to_bf16(transA ? A[k * lda + i] : A[i * lda + k]),
                               to_bf16(transB ? B[j * ldb + k] : B[k * ldb + j]), acc);
        float& c = C[i * ldc + j];
        c = beta == 0.f ? alpha * acc : __builtin_fmaf(alpha, acc, beta * c);
      }
    return;
  }
  for (int64_t i = m0; i < m1; ++i) {
    float* c = C + i * ldc;
    for (int64_t j = 0; j < N; ++j) c[j] = beta == 0.f ? 0.f : beta * c[j];
    if (alpha == 0.f) continue;
    for (int64_t k = 0; k < K; ++k) {
      float a = alpha * (transA ? A[k * lda + i] : A[i * lda + k]);
      if (transB) {
        for (int64_t j = 0; j < N; ++j) c[j] += a * B[j * ldb + k];
      } else {
        const float* b = B + k * ldb;
        for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
      }
    }
  }
}

namespace gemm {

// ---------------------------------------------------------------------------------------------
// Per-thread packing buffers (the pool's threads live as long as the process).

namespace {
constexpr int kBuffers = 3;  // packed A, packed B, operand shared by a parallel call
const char* const kBufferNames[kBuffers] = {"GEMM packed-A", "GEMM packed-B", "GEMM shared-operand"};
}  // namespace

float* scratch(int which, size_t floats) {
  if (which < 0 || which >= kBuffers) std::abort();
  thread_local ScratchBlock buffers[kBuffers] = {ScratchBlock(kBufferNames[0]), ScratchBlock(kBufferNames[1]),
                                                 ScratchBlock(kBufferNames[2])};
  // Large buffers on 2 MiB boundaries, as transparent huge pages where the kernel allows
  // (fewer TLB misses while packing and streaming the packed blocks); exact-size in exact-size mode.
  const bool huge = floats * sizeof(float) >= (size_t(2) << 20) && !exact_alloc();
  const size_t align = huge ? size_t(2) << 20 : 4096;
  thread_local float* advised[kBuffers] = {};
  float* p = buffers[which].get(floats, align, align);
#ifdef MADV_HUGEPAGE
  if (huge && p != advised[which]) madvise(p, (floats * sizeof(float) + align - 1) & ~(align - 1), MADV_HUGEPAGE);
#endif
  advised[which] = p;
  return p;
}

// ---------------------------------------------------------------------------------------------
// Engine choice

static bool emulate_avx512() {
  const char* emu = std::getenv("CONVNET_GEMM_EMULATE_AVX512");
  return emu && std::strcmp(emu, "1") == 0;
}

static const EngineInfo* choose_engine() {
  const CpuFeatures& f = cpu_features();
  if (f.avx512) return &engine_avx512();
  if (f.avx2) return emulate_avx512() ? &engine_avx2_emulating_avx512() : &engine_avx2();
  return nullptr;
}

static const EngineInfo* engine() {
  static const EngineInfo* e = choose_engine();
  return e;
}

// ---------------------------------------------------------------------------------------------
// Matmul precision (gemm.h) and the bf16 engine: null = portable loops.

static int initial_precision() {
  const char* v = std::getenv("CONVNET_MATMUL_PRECISION");
  return v && std::strcmp(v, "bf16") == 0 ? 1 : 0;
}
static std::atomic<int>& precision_state() {
  static std::atomic<int> p{initial_precision()};
  return p;
}

static const EngineInfo* choose_bf16_engine() {
  const CpuFeatures& f = cpu_features();
  const char* eng = std::getenv("CONVNET_BF16_ENGINE");
  const bool emulate = eng && std::strcmp(eng, "emulated") == 0;
  if (f.avx512bf16 && !emulate) return &engine_bf16_avx512();
  if (f.avx2 && !f.avx512 && emulate_avx512()) {  // the AVX-512 engines' 16-wide dot products, on AVX2 (tests)
    static const EngineInfo wide = [] {
      EngineInfo x = engine_bf16_avx2();
      x.run_dots = &dots_bf16_avx2_emulating_avx512;
      return x;
    }();
    return &wide;
  }
  if (f.avx2) return &engine_bf16_avx2();
  return nullptr;
}

static const EngineInfo* bf16_engine() {
  static const EngineInfo* e = choose_bf16_engine();
  return e;
}

// Few rows times a transposed B (a linear layer's forward at batch <= 4): direct dot products, B read once.
static bool use_dots(const EngineInfo* e, const Problem& p) {
  return e->run_dots && !p.transA && p.transB && p.M <= kDotsMaxRows && p.K >= 64 && p.alpha != 0.f;
}

// ---------------------------------------------------------------------------------------------
// Splitting over threads. Two ways (see split_run): the smaller operand packed once and shared,
// with C cut along the other dimension; or C cut into a grid of independent blocks, each a serial
// GEMM with its own packing. Blocks always start at micro-tile boundaries.

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Below this many flops one thread is faster than waking the pool (~10-15 us).
constexpr double kMinParallelFlops = 2.5e6;
// Above this many flops per thread, C may be cut into 2 or 4 blocks per thread: the pool hands
// blocks out dynamically, which evens out threads slowed down by other processes.
constexpr double kFineSplitFlops = 64e6;

struct Grid {
  int tm = 1, tn = 1;
  double cost = -1;  // modelled time, in flop-equivalents, of the slowest thread
};

// Best tm x tn grid with tm * tn == tasks, modelled as: each block is a serial GEMM on padded
// micro-tiles, plus its packing (each packed element costs about as much as 16 flops; A is
// re-packed for every 4096 columns); blocks run in ceil(tasks / threads) waves.
static Grid best_grid(const EngineInfo& e, const Problem& p, int tasks, int threads) {
  const int64_t pm = ceil_div(p.M, e.mr), pn = ceil_div(p.N, e.nr);  // micro-tiles
  const double K = double(p.K);
  Grid best;
  for (int tm = 1; tm <= tasks; ++tm) {
    if (tasks % tm) continue;
    const int tn = tasks / tm;
    if (tm > pm || tn > pn) continue;
    const double mm = double(ceil_div(pm, tm) * e.mr), nn = double(ceil_div(pn, tn) * e.nr);
    const double block = 2.0 * mm * nn * K + 16.0 * (mm * K * ceil_div(int64_t(nn), 4096) + nn * K);
    const double cost = block * double(ceil_div(tasks, threads));
    if (best.cost < 0 || cost < best.cost) best = Grid{tm, tn, cost};
  }
  return best;
}

// Independent blocks: C cut into a tm x tn grid, each block a serial GEMM with its own packing.
static void run_grid(const EngineInfo& e, const Problem& p, int threads) {
  Grid g = best_grid(e, p, threads, threads);
  if (g.cost < 0) {  // fewer micro-tiles than threads in both directions: use what there is
    const int64_t pm = ceil_div(p.M, e.mr), pn = ceil_div(p.N, e.nr);
    g = pm >= pn ? Grid{int(pm < threads ? pm : threads), 1, 0}
                 : Grid{1, int(pn < threads ? pn : threads), 0};
  }
  const double flops = 2.0 * double(p.M) * double(p.N) * double(p.K);
  for (int per = 2; per <= 4; per *= 2) {
    if (flops < kFineSplitFlops * threads * per / 2) break;
    const Grid f = best_grid(e, p, threads * per, threads);
    if (f.cost >= 0 && f.cost <= 1.03 * g.cost) g = f;  // finer, unless clearly more work
  }
  const int tm = g.tm, tn = g.tn;
  const int64_t pm = ceil_div(p.M, e.mr), pn = ceil_div(p.N, e.nr);
  parallel_tasks(tm * tn, [&](int64_t t, int) {
    const int64_t bi = t / tn, bj = t % tn;
    const int64_t m0 = pm * bi / tm * e.mr, m1 = pm * (bi + 1) / tm * e.mr;
    const int64_t n0 = pn * bj / tn * e.nr, n1 = pn * (bj + 1) / tn * e.nr;
    Problem s = p;
    s.M = (m1 < p.M ? m1 : p.M) - m0;
    s.N = (n1 < p.N ? n1 : p.N) - n0;
    if (s.M <= 0 || s.N <= 0) return;
    s.A = p.transA ? p.A + m0 : p.A + m0 * p.lda;
    s.B = p.transB ? p.B + n0 * p.ldb : p.B + n0;
    s.C = p.C + m0 * p.ldc + n0;
    e.run(s);
  });
}

// Shared operand: the smaller of op(A), op(B) is packed once by all threads together (into the
// caller's scratch buffer); then C is cut along the other dimension into several blocks per thread,
// handed out dynamically, each computed with the shared packed operand. Returns false (and does
// nothing) when that does not suit the problem.
constexpr double kSharedMinFlops = 8e6;             // two parallel regions cost ~20-30 us
constexpr double kTaskFlops = 4e6;                  // smallest block worth a task
constexpr size_t kSharedMaxBytes = size_t(16) << 20;  // stays in L3
constexpr size_t kSerialPackFloats = 64 * 1024;       // packed by the calling thread alone

// One way to run the shared-operand scheme: C split along N (op(A) shared) or along M (op(B)).
struct SharedPlan {
  bool split_n = false;
  int64_t width = 0, other = 0;  // panel widths along the split and along the shared operand
  int64_t panels = 0, shared_panels = 0, tasks = 0;
  size_t floats = 0;   // of the packed shared operand
  double cost = -1;    // modelled time of the slowest thread, in flop-equivalents
};

static SharedPlan plan_shared(const EngineInfo& e, const Problem& p, int threads, bool split_n) {
  SharedPlan s;
  s.split_n = split_n;
  s.width = split_n ? e.nr : e.mr;
  s.other = split_n ? e.mr : e.nr;
  s.panels = ceil_div(split_n ? p.N : p.M, s.width);
  s.shared_panels = ceil_div(split_n ? p.M : p.N, s.other);
  s.floats = split_n ? e.packed_a_floats(p.M, p.K) : e.packed_b_floats(p.N, p.K);
  if (s.panels < 2 * threads || s.floats * sizeof(float) > kSharedMaxBytes) return s;
  const double flops = 2.0 * double(p.M) * double(p.N) * double(p.K);
  int64_t tasks = 4 * int64_t(threads);
  if (tasks > s.panels / 2) tasks = s.panels / 2;
  if (double(tasks) > flops / kTaskFlops) tasks = int64_t(flops / kTaskFlops);
  if (tasks < threads) tasks = threads;
  s.tasks = tasks;
  // Tasks of whole panels handed out in order to whichever thread is free first.
  int64_t load[64] = {0};
  const int nt = threads < 64 ? threads : 64;
  int64_t makespan = 0;
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t size = s.panels * (t + 1) / tasks - s.panels * t / tasks;
    int best = 0;
    for (int i = 1; i < nt; ++i)
      if (load[i] < load[best]) best = i;
    load[best] += size;
    if (load[best] > makespan) makespan = load[best];
  }
  const double per_panel = 2.0 * double(s.width) * double(s.shared_panels * s.other) * double(p.K);
  const bool parallel_pack = s.floats >= kSerialPackFloats;
  s.cost = double(makespan) * per_panel + 16.0 * double(s.floats) / (parallel_pack ? threads : 1);
  return s;
}

static bool run_shared_split(const EngineInfo& e, const Problem& p, int threads) {
  const double flops = 2.0 * double(p.M) * double(p.N) * double(p.K);
  if (flops < kSharedMinFlops) return false;
  const SharedPlan by_n = plan_shared(e, p, threads, true), by_m = plan_shared(e, p, threads, false);
  if (by_n.cost < 0 && by_m.cost < 0) return false;
  const SharedPlan& plan = by_m.cost < 0 || (by_n.cost >= 0 && by_n.cost <= by_m.cost) ? by_n : by_m;
  const bool split_n = plan.split_n;
  const int64_t width = plan.width, other = plan.other, panels = plan.panels;
  const int64_t shared_panels = plan.shared_panels, tasks = plan.tasks;
  const size_t floats = plan.floats;

  float* buf = scratch(2, floats);
  // Phase 1: pack the shared operand, panel ranges in parallel (on this thread alone when it is
  // small: a parallel region costs ~10 us and waits for the slower thread).
  int64_t chunks = shared_panels < 2 * threads ? shared_panels : 2 * threads;
  if (floats < kSerialPackFloats) chunks = 1;
  auto pack = [&](int64_t c, int) {
    const int64_t lim = split_n ? p.M : p.N;
    const int64_t r0 = shared_panels * c / chunks * other;
    int64_t r1 = shared_panels * (c + 1) / chunks * other;
    if (r1 > lim) r1 = lim;
    if (r0 >= r1) return;
    if (split_n)
      e.pack_a_full(p, buf, r0, r1);
    else
      e.pack_b_full(p, buf, r0, r1);
  };
  if (chunks == 1)
    pack(0, 0);
  else
    parallel_tasks(chunks, pack);
  // Phase 2: blocks of C along the other dimension.
  Packed none{nullptr, 0, 0};
  Packed shared{buf, (split_n ? ceil_div(p.M, other) : ceil_div(p.N, other)) * other, 0};
  parallel_tasks(tasks, [&](int64_t t, int) {
    const int64_t lim = split_n ? p.N : p.M;
    const int64_t x0 = panels * t / tasks * width;
    int64_t x1 = panels * (t + 1) / tasks * width;
    if (x1 > lim) x1 = lim;
    if (x0 >= x1) return;
    Problem s = p;
    if (split_n) {
      s.N = x1 - x0;
      s.B = p.transB ? p.B + x0 * p.ldb : p.B + x0;
      s.C = p.C + x0;
      e.run_shared(s, shared, none);
    } else {
      s.M = x1 - x0;
      s.A = p.transA ? p.A + x0 : p.A + x0 * p.lda;
      s.C = p.C + x0 * p.ldc;
      e.run_shared(s, none, shared);
    }
  });
  return true;
}

static void split_run(const EngineInfo& e, const Problem& p, int threads) {
  // (bf16 engines pack in their own format: independent blocks only)
  if (e.run_shared && p.K > 0 && p.alpha != 0.f && run_shared_split(e, p, threads)) return;
  run_grid(e, p, threads);
}

}  // namespace gemm

void set_matmul_precision(MatmulPrecision p) { gemm::precision_state().store(static_cast<int>(p)); }

MatmulPrecision matmul_precision() { return static_cast<MatmulPrecision>(gemm::precision_state().load()); }

const char* bf16_engine_name() {
  const gemm::EngineInfo* e = gemm::bf16_engine();
  return e ? e->name : "generic-bf16-emulated";
}

void sgemm_serial(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                  int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  const bool bf16 = matmul_precision() == MatmulPrecision::bf16;
  const gemm::EngineInfo* e = bf16 ? gemm::bf16_engine() : gemm::engine();
  if (!e) {
    if (bf16)
      gemm_rows<true>(transA, transB, 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
      gemm_rows<false>(transA, transB, 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const gemm::Problem p{transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
  if (gemm::use_dots(e, p)) {
    e->run_dots(p, 0, N);
    return;
  }
  e->run(p);
}

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  const bool bf16 = matmul_precision() == MatmulPrecision::bf16;
  const gemm::EngineInfo* e = bf16 ? gemm::bf16_engine() : gemm::engine();
  const int threads = num_threads();
  if (!e) {
    parallel_for(M, [&](int64_t b, int64_t en, int) {
      if (bf16)
        gemm_rows<true>(transA, transB, b, en, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      else
        gemm_rows<false>(transA, transB, b, en, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    });
    return;
  }
  const gemm::Problem p{transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
  if (gemm::use_dots(e, p)) {  // columns split over the threads in fixed ranges of 4
    const int64_t groups = (N + 3) / 4;
    if (threads <= 1 || 2.0 * double(M) * double(N) * double(K) < gemm::kMinParallelFlops)
      e->run_dots(p, 0, N);
    else
      parallel_for(groups, [&](int64_t g0, int64_t g1, int) { e->run_dots(p, g0 * 4, std::min(N, g1 * 4)); });
    return;
  }
  if (threads <= 1 || 2.0 * double(M) * double(N) * double(K) < gemm::kMinParallelFlops) {
    e->run(p);
    return;
  }
  gemm::split_run(*e, p, threads);
}

}  // namespace convnet
