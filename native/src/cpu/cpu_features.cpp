#include "convnet/cpu_features.h"
#include <cstdlib>
#include <cstring>

namespace convnet {

static CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  f.avx512 = f.avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#if defined(__GNUC__) && __GNUC__ >= 12
  f.avx512bf16 = f.avx512 && __builtin_cpu_supports("avx512bf16");
  f.amx = __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-bf16");
#endif
#endif
  const char* cap = std::getenv("CONVNET_ISA");
  if (cap) {
    if (std::strcmp(cap, "generic") == 0) { f.avx2 = f.avx512 = f.avx512bf16 = f.amx = false; }
    else if (std::strcmp(cap, "avx2") == 0) { f.avx512 = f.avx512bf16 = f.amx = false; }
  }
  return f;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

const char* active_isa() {
  const auto& f = cpu_features();
  return f.avx512 ? "avx512" : f.avx2 ? "avx2" : "generic";
}

}  // namespace convnet
