/**
 * Loading the two addons that `pnpm install` built (CMakeLists.txt): `convnet_cuda.node` (the CUDA
 * kernels, or a stub built without CUDA) and `convnet_cuda_host.node` (the same kernels run by the host
 * emulator). Device pointers cross the boundary as JS numbers.
 */
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ActivationFn, Conv2dInfo, KernelAttrs, LrnAttrs, Pool2dInfo } from '@convnet/tensor';

/** [n, c, inner]: axis 1 of an [n, c, ...] tensor. */
export interface ChannelAttrs { n: number; c: number; inner: number }

export interface BuildInfo {
  /** 'cuda': nvcc-built kernels; 'stub': built without CUDA; 'host-emulation': the CPU emulator. */
  kind: 'cuda' | 'stub' | 'host-emulation';
  builtWithCuda: boolean;
  /** CUDA architectures compiled, e.g. '75,80,86,89,90' (empty without CUDA). */
  archs: string;
  /** 'nvcc 13.0.88', or why CUDA was left out ('CONVNET_CUDA=off', 'no CUDA toolkit ...'). */
  buildNote: string;
}

export interface ProbeDevice { name: string; major: number; minor: number; multiprocessors: number; clockKHz: number; totalMemory: number }

export interface Probe {
  /** cudart version compiled in, e.g. 13000; 0 without CUDA. */
  runtimeVersion: number;
  /** CUDA version the installed driver supports; 0 when no driver could be loaded. */
  driverVersion: number;
  /** cudaGetDeviceCount's cudaError_t (0 = success; -1 = not built with CUDA). */
  error: number;
  errorName: string;
  errorString: string;
  devices: ProbeDevice[];
}

type Ptr = number;

/** The kernel and memory entry points (src/bind/addon.cpp documents each argument list). */
export interface CudaAddon {
  info(): BuildInfo;
  probe(): Probe;
  setDevice(device: number): void;
  malloc(bytes: number): Ptr;
  free(ptr: Ptr): void;
  memInfo(): [number, number];
  upload(dst: Ptr, src: ArrayBufferView, stream: Ptr): void;
  download(dst: ArrayBufferView, src: Ptr, stream: Ptr): void;
  copy(dst: Ptr, src: Ptr, bytes: number, stream: Ptr): void;
  memsetZero(dst: Ptr, bytes: number, stream: Ptr): void;
  streamCreate(): Ptr;
  streamDestroy(s: Ptr): void;
  streamSynchronize(s: Ptr): void;
  eventCreate(): Ptr;
  eventRecord(e: Ptr, s: Ptr): void;
  streamWaitEvent(s: Ptr, e: Ptr): void;
  eventSynchronize(e: Ptr): void;
  eventDestroy(e: Ptr): void;
  hostAlloc(bytes: number): ArrayBuffer;
  /** The strided, batched GEMM under the convolutions (not a kernel of the spec; `gemm` is). */
  sgemm(s: Ptr, dims: number[], transA: boolean, transB: boolean, reduce: boolean, alpha: number, beta: number, a: Ptr, b: Ptr, c: Ptr): void;
  conv2dWorkspaceBytes(attrs: Conv2dInfo, images: number): number;
  softmaxCrossEntropyWorkspace(n: number): number;
  sumAndSquaresWorkspace(): number;
  // The kernels: the native ABI shared with @convnet/native (convnet/abi.h), kernel(stream, attrs, ...inputs,
  // ...outputs[, scratch]) with the attributes and sizes by name.
  gemm(s: Ptr, attrs: { transA: boolean; transB: boolean; alpha: number; beta: number; M: number; N: number; K: number }, a: Ptr, b: Ptr, c: Ptr): void;
  conv2d(s: Ptr, attrs: Conv2dInfo, x: Ptr, w: Ptr, b: Ptr, y: Ptr, ws: Ptr, wsBytes: number): void;
  conv2dBackwardInput(s: Ptr, attrs: Conv2dInfo, dy: Ptr, w: Ptr, dx: Ptr, ws: Ptr, wsBytes: number): void;
  conv2dBackwardWeight(s: Ptr, attrs: Conv2dInfo, x: Ptr, dy: Ptr, dw: Ptr, ws: Ptr, wsBytes: number): void;
  conv2dBackwardBias(s: Ptr, attrs: ChannelAttrs, dy: Ptr, db: Ptr): void;
  biasAdd(s: Ptr, attrs: ChannelAttrs, x: Ptr, b: Ptr, y: Ptr): void;
  maxPool2d(s: Ptr, attrs: Pool2dInfo, x: Ptr, y: Ptr): void;
  maxPool2dBackward(s: Ptr, attrs: Pool2dInfo, x: Ptr, dy: Ptr, dx: Ptr): void;
  avgPool2d(s: Ptr, attrs: Pool2dInfo & { countIncludePad: boolean }, x: Ptr, y: Ptr): void;
  avgPool2dBackward(s: Ptr, attrs: Pool2dInfo & { countIncludePad: boolean }, dy: Ptr, dx: Ptr): void;
  adaptiveAvgPool2d(s: Ptr, attrs: Pool2dInfo, x: Ptr, y: Ptr): void;
  adaptiveAvgPool2dBackward(s: Ptr, attrs: Pool2dInfo, dy: Ptr, dx: Ptr): void;
  lrn(s: Ptr, attrs: LrnAttrs & { n: number; c: number; plane: number }, x: Ptr, y: Ptr, scale: Ptr): void;
  lrnBackward(s: Ptr, attrs: LrnAttrs & { n: number; c: number; plane: number }, x: Ptr, y: Ptr, scale: Ptr, dy: Ptr, dx: Ptr): void;
  activation(s: Ptr, attrs: { fn: ActivationFn; len: number }, x: Ptr, y: Ptr): void;
  activationBackward(s: Ptr, attrs: { fn: ActivationFn; len: number }, x: Ptr, y: Ptr, dy: Ptr, dx: Ptr): void;
  dropout(s: Ptr, attrs: KernelAttrs<'dropout'> & { len: number }, x: Ptr, y: Ptr, mask: Ptr): void;
  add(s: Ptr, attrs: { len: number }, a: Ptr, b: Ptr, y: Ptr): void;
  mul(s: Ptr, attrs: { len: number }, a: Ptr, b: Ptr, y: Ptr): void;
  scale(s: Ptr, attrs: { len: number; alpha: number }, x: Ptr, y: Ptr): void;
  axpy(s: Ptr, attrs: { len: number; alpha: number }, x: Ptr, y: Ptr): void;
  softmax(s: Ptr, attrs: { n: number; classes: number }, x: Ptr, y: Ptr): void;
  /** out: 3 doubles (mean loss, top-1 hits, top-k hits) */
  softmaxCrossEntropy(s: Ptr, attrs: { n: number; classes: number; topk: number }, logits: Ptr, labels: Ptr, dlogits: Ptr, ws: Ptr, out: Ptr): void;
  /** w and v in place */
  sgdUpdate(s: Ptr, attrs: KernelAttrs<'sgdUpdate'> & { len: number }, g: Ptr, w: Ptr, v: Ptr): void;
  /** w, m, v in place; stepSize = lr / (1 − β1^step), sqrtBc2 = √(1 − β2^step) computed here, as ref does */
  adamUpdate(s: Ptr, attrs: KernelAttrs<'adamUpdate'> & { len: number; stepSize: number; sqrtBc2: number }, g: Ptr, w: Ptr, m: Ptr, v: Ptr): void;
  softmaxBackward(s: Ptr, attrs: { n: number; classes: number }, y: Ptr, dy: Ptr, dx: Ptr): void;
  /** out: 2 doubles (Σ x, Σ x²) */
  sumAndSquares(s: Ptr, attrs: { len: number }, x: Ptr, ws: Ptr, out: Ptr): void;
  augment(s: Ptr, dims: number[], fill: number, top: Ptr, left: Ptr, flip: Ptr, light: Ptr, mean: Ptr, mul: Ptr, padMean: Ptr, meanImage: Ptr, images: Ptr, out: Ptr): void;
}

export type AddonKind = 'cuda' | 'host';

const here = dirname(fileURLToPath(import.meta.url));
/** The package root: dist/ or src/ sits one level below it. */
const root = resolve(here, '..');

const FILES: Record<AddonKind, string> = { cuda: 'convnet_cuda.node', host: 'convnet_cuda_host.node' };

export type Loaded = { addon: CudaAddon; path: string; error?: undefined } | { addon?: undefined; path?: undefined; error: string };

const cache = new Map<AddonKind, Loaded>();

/**
 * The addon of the given kind, or why it could not be loaded. CONVNET_CUDA_ADDON_PATH /
 * CONVNET_CUDA_HOST_ADDON_PATH load another build (a debug or sanitizer build).
 */
export function loadAddon(kind: AddonKind): Loaded {
  const hit = cache.get(kind);
  if (hit) return hit;
  // @convnet/native's loader (contract C5): override variable, source build, prebuilt package; its error says
  // what to run for npm and pnpm.
  const { tryLoadAddon } = createRequire(import.meta.url)('@convnet/native/loader') as typeof import('@convnet/native/loader');
  const envPath = kind === 'cuda' ? 'CONVNET_CUDA_ADDON_PATH' : 'CONVNET_CUDA_HOST_ADDON_PATH';
  const r = tryLoadAddon<CudaAddon>({ name: '@convnet/cuda', root, file: FILES[kind], envPath, optional: true });
  const result: Loaded = r.error === undefined ? { addon: r.addon, path: r.path } : { error: r.error.replace(/^@convnet\/cuda: /, '') };
  cache.set(kind, result);
  return result;
}
