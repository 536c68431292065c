export { Module, Parameter, NO_GRAD, reuse, isModule, describeModule, MODULE_BRAND, MODULE_ABI } from './module.js';
export {
  Conv2d, Linear, Activation, ReLU, Sigmoid, Logistic, Tanh, Abs, Softplus, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d,
  LocalResponseNorm, Dropout, Flatten, Softmax, CrossEntropyLoss,
  type Conv2dOptions, type PoolOptions, type LrnOptions,
} from './layers.js';
export { Sequential, Parallel } from './containers.js';
export * as init from './init.js';
export {
  parseSafetensors, loadSafetensors, loadSafetensorsStateDict, saveSafetensors, serializeSafetensors, toFloat32, SafetensorsError,
  type RawTensor, type SafetensorsDtype,
} from './safetensors.js';
export { loadStateDictFile, parseStateDictFile, sniffStateDictFormat, type StateDictFile, type StateDictFormat } from './statedict-file.js';
export { loadPth, parsePth, pthStateDict, pthTensorToFloat32, savePth, serializePth, unpickle, PthError, MAX_INFLATE_RATIO, type PthFile, type PthDtype } from './pth.js';
