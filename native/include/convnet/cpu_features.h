#pragma once
namespace convnet {
struct CpuFeatures {
  bool avx2 = false;      // AVX2 + FMA
  bool avx512 = false;    // AVX-512 F/BW/DQ/VL
  bool avx512bf16 = false;
  bool amx = false;       // AMX-TILE + AMX-BF16
};
const CpuFeatures& cpu_features();
// "avx512", "avx2" or "generic": the widest instruction set the kernels use on this CPU.
// CONVNET_ISA=avx2|generic caps it (for testing the other paths on a wide CPU).
const char* active_isa();
}  // namespace convnet
