// The CPU kernels built for the generic instruction set (CMakeLists.txt sets this file's flags).
#include "batchnorm_cpu.h"

namespace convnet::batchnorm::cpu::generic {
#include "batchnorm_cpu_kernel.h"
}  // namespace convnet::batchnorm::cpu::generic
