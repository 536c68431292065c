// The CPU addon's threading and instruction-set choice (batchnorm_cpu.h), both from @convnet/native's runtime
// (convnet/runtime.h): the process's one thread pool and the ISA it chose. No pool or CPUID code of its own.
#include "batchnorm_cpu.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace convnet::batchnorm::cpu {
namespace {

// Below this many values per thread a wake-up costs more than it saves.
constexpr int64_t kMinWorkPerThread = 32 * 1024;
const convnet_runtime* g_runtime = nullptr;

const convnet_runtime* rt() {
  if (!g_runtime)
    throw std::runtime_error("batchnorm: no runtime: call useRuntime(require('@convnet/native').runtime()) first");
  return g_runtime;
}
// the AVX2 bodies wherever @convnet/native runs AVX2 or AVX-512 (CONVNET_ISA caps both)
bool use_avx2() { return std::strcmp(rt()->isa(), "generic") != 0; }

}  // namespace

void use_runtime(const convnet_runtime* r) { g_runtime = r; }
const char* isa() { return use_avx2() ? "avx2" : "generic"; }
int threads() { return rt()->num_threads(); }

void parallel_channels(int64_t c, int64_t work, const std::function<void(int64_t, int64_t)>& fn) {
  if (c <= 0) return;
  const int64_t by_work = std::max<int64_t>(1, work / kMinWorkPerThread);
  const int t = static_cast<int>(std::min<int64_t>(rt()->task_threads(c), by_work));
  if (t <= 1) return fn(0, c);
  kit::parallel_tasks(rt(), t, [&](int64_t i, int) { fn(c * i / t, c * (i + 1) / t); });
}

void train(const Dims& d, float eps, float momentum, const float* x, const float* weight, const float* bias,
           float* y, float* save_mean, float* save_inv_std, float* running_mean, float* running_var) {
  const auto f = use_avx2() ? avx2::train_channels : generic::train_channels;
  parallel_channels(d.c, d.n * d.c * d.plane, [&](int64_t c0, int64_t c1) {
    f(c0, c1, d, eps, momentum, x, weight, bias, y, save_mean, save_inv_std, running_mean, running_var);
  });
}

void inference(const Dims& d, float eps, const float* x, const float* weight, const float* bias,
               const float* running_mean, const float* running_var, float* y) {
  const auto f = use_avx2() ? avx2::inference_channels : generic::inference_channels;
  parallel_channels(d.c, d.n * d.c * d.plane,
                    [&](int64_t c0, int64_t c1) { f(c0, c1, d, eps, x, weight, bias, running_mean, running_var, y); });
}

void backward(const Dims& d, const float* x, const float* dy, const float* weight, const float* save_mean,
              const float* save_inv_std, float* dx, float* dweight, float* dbias) {
  const auto f = use_avx2() ? avx2::backward_channels : generic::backward_channels;
  parallel_channels(d.c, 2 * d.n * d.c * d.plane, [&](int64_t c0, int64_t c1) {
    f(c0, c1, d, x, dy, weight, save_mean, save_inv_std, dx, dweight, dbias);
  });
}

}  // namespace convnet::batchnorm::cpu
