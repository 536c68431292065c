/**
 * Binding the kernels to backends. `registerBatchNorm()` declares the three kernels (specs + `ref`), gives the
 * `cpu` backend the native CPU kernels and every registered CUDA backend of @convnet/cuda (`cuda`, `cuda:N`,
 * `cuda-host`) the CUDA kernels; any other backend runs them through its fallback (ultimately `ref`).
 */
import { getBackend, listBackends, registerKernel, type Tensor } from '@convnet/tensor';
import { registerBatchNormSpecs } from './kernels.js';
import { dimsOf, loadBatchNormAddon, type BatchNormCpuAddon, type BatchNormCudaAddon } from './native.js';

type T = Tensor;

/**
 * Gives `cpu` the native kernels (the addon's functions are named as the kernels). They split the channels over
 * @convnet/native's own thread pool (CONVNET_NUM_THREADS, the cores, or the trainer's --threads: `setNumThreads`).
 */
export function registerBatchNormCpu(): void {
  const a = loadBatchNormAddon('cpu');
  if (a instanceof Error) throw a;
  const n = a as BatchNormCpuAddon;
  registerKernel('batchNorm2d', 'cpu', ({ x, weight, bias }: { x: T; weight: T; bias: T }, at: { eps: number; momentum: number },
    o: { y: T; saveMean: T; saveInvStd: T; runningMean: T; runningVar: T }) =>
    n.batchNorm2d({ ...dimsOf(x), ...at }, x.data, weight.data, bias.data, o.y.data, o.saveMean.data, o.saveInvStd.data,
      o.runningMean.data, o.runningVar.data));
  registerKernel('batchNorm2dInference', 'cpu', (i: { x: T; weight: T; bias: T; runningMean: T; runningVar: T }, at: { eps: number }, { y }: { y: T }) =>
    n.batchNorm2dInference({ ...dimsOf(i.x), ...at }, i.x.data, i.weight.data, i.bias.data, i.runningMean.data,
      i.runningVar.data, y.data));
  registerKernel('batchNorm2dBackward', 'cpu', (i: { x: T; dy: T; weight: T; saveMean: T; saveInvStd: T }, _a: object, o: { dx: T; dweight: T; dbias: T }) =>
    n.batchNorm2dBackward({ ...dimsOf(i.x) }, i.x.data, i.dy.data, i.weight.data, i.saveMean.data, i.saveInvStd.data,
      o.dx.data, o.dweight.data, o.dbias.data));
}

/** What this package needs of a @convnet/cuda backend: its device's stream and a call scope that resolves
 * tensors to device addresses (staging host tensors). */
interface CudaLikeBackend {
  name: string;
  device: { stream: number; emulated: boolean; index: number };
  run(body: (c: { in(t: T): number; out(t: T): number; inout(t: T): number }) => void): void;
}
const isCuda = (b: unknown): b is CudaLikeBackend =>
  !!b && typeof (b as CudaLikeBackend).run === 'function' && typeof (b as CudaLikeBackend).device === 'object';

/** Gives a CUDA backend of @convnet/cuda the CUDA kernels (`cuda-host`: the host emulator's build of them). */
export function registerBatchNormCuda(backend: string): void {
  const b = getBackend(backend);
  if (!isCuda(b)) throw new Error(`registerBatchNormCuda('${backend}'): not a backend made by @convnet/cuda's createCudaBackend`);
  const a = loadBatchNormAddon(b.device.emulated ? 'cuda-host' : 'cuda');
  if (a instanceof Error) throw a;
  const k = a as BatchNormCudaAddon;
  const s = () => b.device.stream;
  // the launches go on the backend's device (`cuda:N`): the addon makes it current (its CUDA runtime is its own)
  const device = b.device.index;
  registerKernel('batchNorm2d', backend, ({ x, weight, bias }: { x: T; weight: T; bias: T }, at: { eps: number; momentum: number },
    o: { y: T; saveMean: T; saveInvStd: T; runningMean: T; runningVar: T }) => b.run((c) =>
    k.batchNorm2d(s(), { ...dimsOf(x), ...at, device }, c.in(x), c.in(weight), c.in(bias), c.out(o.y), c.out(o.saveMean), c.out(o.saveInvStd),
      c.inout(o.runningMean), c.inout(o.runningVar))));
  registerKernel('batchNorm2dInference', backend, (i: { x: T; weight: T; bias: T; runningMean: T; runningVar: T }, at: { eps: number }, { y }: { y: T }) =>
    b.run((c) => k.batchNorm2dInference(s(), { ...dimsOf(i.x), ...at, device }, c.in(i.x), c.in(i.weight), c.in(i.bias), c.in(i.runningMean),
      c.in(i.runningVar), c.out(y))));
  registerKernel('batchNorm2dBackward', backend, (i: { x: T; dy: T; weight: T; saveMean: T; saveInvStd: T }, _a: object, o: { dx: T; dweight: T; dbias: T }) =>
    b.run((c) => k.batchNorm2dBackward(s(), { ...dimsOf(i.x), device }, c.in(i.x), c.in(i.dy), c.in(i.weight), c.in(i.saveMean), c.in(i.saveInvStd),
      c.out(o.dx), c.out(o.dweight), c.out(o.dbias))));
}

/**
 * Declares the kernels and binds every backend registered now that this package has kernels for (`cpu`, and
 * CUDA backends made by @convnet/cuda). Returns which backend runs them natively. Idempotent; call it again
 * after registering a CUDA backend.
 */
export function registerBatchNorm(): { native: string[]; fallback: Record<string, string> } {
  registerBatchNormSpecs();
  const native: string[] = ['ref'];
  const fallback: Record<string, string> = {};
  for (const name of listBackends()) {
    if (name !== 'cpu' && !isCuda(getBackend(name))) continue;
    try {
      if (name === 'cpu') registerBatchNormCpu();
      else registerBatchNormCuda(name);
      native.push(name);
    } catch (e) {
      // an addon that was not built (no nvcc at install): the backend falls back, and says why
      fallback[name] = (e as Error).message;
    }
  }
  return { native, fallback };
}
