import { cpuBackend } from './cpu/index.js';
import { refBackend } from './ref/index.js';
import { BUILTIN_KERNEL_SPECS } from './kernels.js';
import { registerBackend, registerKernelSpec, setBuiltinInitialiser, setDefaultBackend } from './registry.js';

export { Tensor, isTensor, TENSOR_BRAND, TENSOR_ABI, sizeOf, stridesOf, describeValue, type Shape } from './tensor.js';
export { OpError, fmtShape } from './errors.js';
export { writeFileAtomic, tempPath } from './atomic.js';
export * from './rng.js';
export * from './geometry.js';
export * from './kernels.js';
export * from './ops.js';
export {
  registerBackend, registerKernel, registerKernelSpec, getKernelSpec, kernelNames, listBackends, getBackend, getKernel,
  hasKernel, resolveKernel, kernelCoverage, setDefaultBackend, defaultBackend, registryInfo, REGISTRY_ABI, VERSION,
  type Backend, type KernelTable,
} from './registry.js';
export { expectTensor, expectShape, expectInt, expectNumber, expectOneOf, expectPair, outTensor } from './validate.js';
export { alloc, memoryFor, memoryOf, reuseOrAlloc, toHostTensor, toBackend } from './memory.js';
export { refBackend } from './ref/index.js';
export { cpuBackend } from './cpu/index.js';
export { native, type Native } from './cpu/native.js';

// Built-in specs and backends are registered on first use of the registry (not at import), `cpu` as default.
setBuiltinInitialiser(() => {
  for (const spec of BUILTIN_KERNEL_SPECS) registerKernelSpec(spec);
  registerBackend(refBackend);
  registerBackend(cpuBackend);
  setDefaultBackend('cpu');
});
