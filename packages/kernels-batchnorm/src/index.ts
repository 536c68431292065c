/**
 * @convnet/kernels-batchnorm: 2-D batch normalisation as a contributed kernel package. It declares three
 * kernels with @convnet/tensor's registry (batchNorm2d, batchNorm2dInference, batchNorm2dBackward), implements
 * them in `ref` (TypeScript), natively on the CPU and in CUDA (its own addons, on convnet's native ABI), and
 * offers a BatchNorm2d layer with PyTorch's semantics and the `alexnet-bn` and `small-bn` (the trainer's default) models. Nothing registers at import:
 * call `registerBatchNorm()` (the trainer does, for `--plugin @convnet/kernels-batchnorm`).
 */
export { BATCHNORM_SPECS, batchNorm2d, batchNorm2dBackward, batchNorm2dInference, batchNorm2dBackwardSpec, batchNorm2dInferenceSpec, batchNorm2dSpec, refKernels, registerBatchNormSpecs } from './kernels.js';
export { registerBatchNorm, registerBatchNormCpu, registerBatchNormCuda } from './register.js';
export { BatchNorm2d, type BatchNorm2dOptions } from './layer.js';
export { batchNormTrainCore, batchNormBackwardCore, batchNormInferenceCore, updateRunningCore, type BnDims } from './ref.js';
export { loadBatchNormAddon } from './native.js';
export { alexnetBnSpec, smallBnSpec } from './model.js';
export { convnetPlugin, type PluginApi } from './plugin.js';
