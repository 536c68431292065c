// The CPU kernels built for the avx2 instruction set (CMakeLists.txt sets this file's flags).
#include "batchnorm_cpu.h"

namespace convnet::batchnorm::cpu::avx2 {
#include "batchnorm_cpu_kernel.h"
}  // namespace convnet::batchnorm::cpu::avx2
