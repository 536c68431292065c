/**
 * Loading this package's addons (built at install by cmake-js, CMakeLists.txt) and binding them to backends:
 * `cpu` gets the CPU kernels; a CUDA backend of @convnet/cuda (`cuda`, `cuda:N`, `cuda-host`) gets the CUDA
 * kernels (or, for `cuda-host`, the same launches on the host emulator). Calls follow convnet's native ABI:
 * kernel(attrs, ...inputs, ...outputs), on CUDA after the stream.
 */
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '@convnet/tensor';

type F = Float32Array;
type P = number;
/** The CPU addon: its kernels run on @convnet/native's thread pool and ISA, handed over once by `useRuntime`. */
export interface BatchNormCpuAddon {
  batchNorm2d(a: object, x: F, w: F, b: F, y: F, mean: F, invStd: F, runningMean: F, runningVar: F): void;
  batchNorm2dInference(a: object, x: F, w: F, b: F, runningMean: F, runningVar: F, y: F): void;
  batchNorm2dBackward(a: object, x: F, dy: F, w: F, mean: F, invStd: F, dx: F, dw: F, db: F): void;
  /** The bodies chosen (from @convnet/native's ISA; CONVNET_ISA=generic forces the baseline) and the pool's threads. */
  info(): { isa: 'avx2' | 'generic'; threads: number };
  /** Hands the addon @convnet/native's runtime (`require('@convnet/native').runtime()`); done by loadBatchNormAddon. */
  useRuntime(runtime: unknown): void;
}
/** The CUDA addon and its host emulator; every kernel's attributes take `device` (the N of `cuda:N`). */
export interface BatchNormCudaAddon {
  batchNorm2d(s: P, a: object, x: P, w: P, b: P, y: P, mean: P, invStd: P, runningMean: P, runningVar: P): void;
  batchNorm2dInference(s: P, a: object, x: P, w: P, b: P, runningMean: P, runningVar: P, y: P): void;
  batchNorm2dBackward(s: P, a: object, x: P, dy: P, w: P, mean: P, invStd: P, dx: P, dw: P, db: P): void;
  /** Which build, and whether the synchronising debug mode (CONVNET_CUDA_SYNC=1) is on. */
  info(): { kind: 'cuda' | 'cuda-host'; sync: boolean };
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cache = new Map<string, unknown>();

/** One of the addons, or an Error saying where it was looked for and how to build it. */
export function loadBatchNormAddon(kind: 'cpu' | 'cuda' | 'cuda-host'): BatchNormCpuAddon | BatchNormCudaAddon | Error {
  const file = { cpu: 'convnet_batchnorm.node', cuda: 'convnet_batchnorm_cuda.node', 'cuda-host': 'convnet_batchnorm_cuda_host.node' }[kind];
  if (cache.has(file)) return cache.get(file) as BatchNormCpuAddon;
  // @convnet/native's loader (contract C5): source build, then a prebuilt package; its error says what to run
  const { tryLoadAddon } = createRequire(import.meta.url)('@convnet/native/loader') as typeof import('@convnet/native/loader');
  const l = tryLoadAddon<BatchNormCpuAddon>({ name: '@convnet/kernels-batchnorm', root, file, optional: true });
  // the CPU kernels run on @convnet/native's pool and ISA (convnet/runtime.h)
  if (kind === 'cpu' && l.error === undefined)
    l.addon.useRuntime((createRequire(import.meta.url)('@convnet/native') as typeof import('@convnet/native')).runtime());
  const r = l.error === undefined ? l.addon : new Error(`${l.error}${kind === 'cuda' ? '\n(the CUDA addon is built only where nvcc is found at install)' : ''}`);
  cache.set(file, r);
  return r;
}

export const dimsOf = (x: Tensor) => ({ n: x.shape[0], c: x.shape[1], plane: x.shape[2] * x.shape[3] });
