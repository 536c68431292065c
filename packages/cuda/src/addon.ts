/**
 * Loading the two addons that `pnpm install` built (CMakeLists.txt): `convnet_cuda.node` (the CUDA
 * kernels, or a stub built without CUDA) and `convnet_cuda_host.node` (the same kernels run by the host
 * emulator). Device pointers cross the boundary as JS numbers.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  /** 'cuda': nvcc-built kernels; 'stub': built without CUDA; 'host-emulation': the CPU emulator. */
  kind: 'cuda' | 'stub' | 'host-emulation';
  builtWithCuda: boolean;
  /** CUDA architectures compiled, e.g. '75,80,86,89,90' (empty without CUDA). */
  archs: string;
  /** 'nvcc 13.0.88', or why CUDA was left out ('CONVNET_CUDA=off', 'no CUDA toolkit ...'). */
  buildNote: string;
}

export interface ProbeDevice { name: string; major: number; minor: number; multiprocessors: number; totalMemory: number }

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
  sgemm(s: Ptr, dims: number[], transA: boolean, transB: boolean, reduce: boolean, alpha: number, beta: number, a: Ptr, b: Ptr, c: Ptr): void;
  convWorkspaceBytes(geom: number[], images: number): number;
  conv2dForward(s: Ptr, geom: number[], x: Ptr, w: Ptr, b: Ptr, y: Ptr, ws: Ptr, wsBytes: number): void;
  conv2dBackwardInput(s: Ptr, geom: number[], dy: Ptr, w: Ptr, dx: Ptr, ws: Ptr, wsBytes: number): void;
  conv2dBackwardWeight(s: Ptr, geom: number[], x: Ptr, dy: Ptr, dw: Ptr, ws: Ptr, wsBytes: number): void;
  biasAdd(s: Ptr, n: number, c: number, inner: number, x: Ptr, b: Ptr, y: Ptr): void;
  biasGrad(s: Ptr, n: number, c: number, inner: number, dy: Ptr, db: Ptr): void;
  pool(s: Ptr, kind: number, geom: number[], countIncludePad: boolean, a: Ptr, b: Ptr, out: Ptr): void;
  lrnForward(s: Ptr, n: number, c: number, plane: number, size: number, coef: number, beta: number, k: number, x: Ptr, y: Ptr, scale: Ptr): void;
  lrnBackward(s: Ptr, n: number, c: number, plane: number, size: number, coef: number, beta: number, k: number, x: Ptr, y: Ptr, scale: Ptr, dy: Ptr, dx: Ptr): void;
  activation(s: Ptr, fn: number, len: number, x: Ptr, y: Ptr): void;
  activationBackward(s: Ptr, fn: number, len: number, x: Ptr, y: Ptr, dy: Ptr, dx: Ptr): void;
  dropout(s: Ptr, len: number, seed: number, streamId: number, offset: number, keepThreshold: number, scale: number, x: Ptr, y: Ptr, mask: Ptr): void;
  binary(s: Ptr, op: number, len: number, a: Ptr, b: Ptr, y: Ptr): void;
  scale(s: Ptr, len: number, alpha: number, x: Ptr, y: Ptr): void;
  axpy(s: Ptr, len: number, alpha: number, x: Ptr, y: Ptr): void;
  softmax(s: Ptr, n: number, classes: number, x: Ptr, y: Ptr): void;
  softmaxXentWorkspace(n: number): number;
  softmaxXent(s: Ptr, n: number, classes: number, topk: number, logits: Ptr, labels: Ptr, dlogits: Ptr, ws: Ptr, out: Ptr): void;
  sgdUpdate(s: Ptr, len: number, lr: number, momentum: number, weightDecay: number, dampening: number, nesterov: boolean, paper: boolean, firstStep: boolean, w: Ptr, v: Ptr, g: Ptr): void;
  adamUpdate(s: Ptr, len: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean, stepSize: number, sqrtBc2: number, w: Ptr, m: Ptr, v: Ptr, g: Ptr): void;
  softmaxBackward(s: Ptr, n: number, classes: number, y: Ptr, dy: Ptr, dx: Ptr): void;
  sumSquaresWorkspace(): number;
  sumAndSquares(s: Ptr, len: number, x: Ptr, ws: Ptr, out: Ptr): void;
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
  const override = kind === 'cuda' ? process.env.CONVNET_CUDA_ADDON_PATH : process.env.CONVNET_CUDA_HOST_ADDON_PATH;
  const candidates = [join(root, 'build', 'Release', FILES[kind]), join(root, 'build', 'Debug', FILES[kind])];
  if (override) candidates.unshift(resolve(override));
  const found = candidates.find((p) => existsSync(p));
  let result: Loaded;
  if (!found) {
    result = { error: `the ${FILES[kind]} addon is missing (looked for ${candidates.join(', ')}); it is built at install time: cd ${root} && npx cmake-js compile` };
  } else {
    try {
      result = { addon: createRequire(import.meta.url)(found) as CudaAddon, path: found };
    } catch (e) {
      result = { error: `${found} failed to load: ${(e as Error).message}` };
    }
  }
  cache.set(kind, result);
  return result;
}
