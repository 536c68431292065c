/**
 * The `cuda` backend: every kernel of @convnet/tensor's spec (kernels.ts) on a CudaDevice. Tensors that
 * are CudaTensors of the same device are used in place (no transfer); plain host Tensors are staged
 * through blocks of the caching allocator (upload, run, download), so every op works with either and the
 * shared conformance suite runs unchanged. Geometry arrays are the same as the `cpu` backend's.
 */
import {
  type ActivationFn, type Backend, type Conv2dInfo, type KernelTable, type Pool2dInfo, Tensor,
} from '@convnet/tensor';
import type { Block } from './allocator.js';
import { CudaDevice, type DeviceOptions } from './device.js';
import { CudaTensor } from './tensor.js';

const convGeom = (g: Conv2dInfo) => [g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.groups, g.oh, g.ow];
const poolGeom = (g: Pool2dInfo) => [g.n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow];
const ACT: Record<ActivationFn, number> = { relu: 0, logistic: 1, tanh: 2, abs: 3, softplus: 4 };
const inner = (shape: readonly number[]) => shape.slice(2).reduce((a, d) => a * d, 1);
const lrnCoef = (a: { alpha: number; size: number; alphaMode: string }) => (a.alphaMode === 'paper' ? a.alpha : a.alpha / a.size);

/**
 * One kernel call: resolves tensors to device addresses, staging host tensors, and on finish downloads
 * staged outputs and returns every block to the allocator (also when the call throws).
 */
export class Call {
  readonly dev: CudaDevice;
  #blocks: Block[] = [];
  #staged = new Map<Tensor, { ptr: number; uploaded: boolean }>();
  #downloads: [Tensor, number][] = [];
  #written: CudaTensor[] = [];
  #used: CudaTensor[] = [];

  constructor(dev: CudaDevice) {
    this.dev = dev;
    dev.activate();
  }

  #resident(t: Tensor): t is CudaTensor {
    if (!(t instanceof CudaTensor)) return false;
    if (t.device !== this.dev) throw new Error(`cuda: ${t.toString()} is on another device than ${this.dev.name}: copy it first`);
    return true;
  }

  #stage(t: Tensor, upload: boolean): number {
    let st = this.#staged.get(t);
    if (!st) this.#staged.set(t, (st = { ptr: this.scratch(t.size * 4), uploaded: false }));
    if (upload && !st.uploaded) {
      if (t.size > 0) this.dev.upload(st.ptr, t.data);
      st.uploaded = true;
    }
    return st.ptr;
  }

  /** Address of an input. */
  in(t: Tensor): number {
    if (!this.#resident(t)) return this.#stage(t, true);
    this.#used.push(t);
    return t.ptr;
  }

  /** Address of an output the kernel overwrites. */
  out(t: Tensor): number {
    if (this.#resident(t)) {
      this.#written.push(t);
      this.#used.push(t);
      return t.ptr;
    }
    const b = this.#stage(t, false);
    this.#downloads.push([t, b]);
    return b;
  }

  /** Address of an output the kernel reads and updates (axpy's y, SGD's w and v, gemm's c with beta ≠ 0). */
  inout(t: Tensor): number {
    const p = this.in(t);
    return this.#resident(t) ? (this.#written.push(t), p) : (this.#downloads.push([t, p]), p);
  }

  /** Device scratch of `bytes` bytes for this call. */
  scratch(bytes: number): number {
    const b = this.dev.allocator.alloc(bytes);
    this.#blocks.push(b);
    return b.ptr;
  }

  /** Uploads a typed array into scratch. */
  upload(src: ArrayBufferView): number {
    const p = this.scratch(src.byteLength);
    if (src.byteLength) this.dev.upload(p, src);
    return p;
  }

  finish(): void {
    for (const t of this.#written) t.markDeviceWritten();
    // last use of blocks that receive async uploads (the copy stream waits for it before overwriting them)
    let e: number | null = null;
    for (const t of this.#used) t.noteUse(() => (e ??= this.dev.recordUse()));
    for (const [t, p] of this.#downloads) if (t.size > 0) this.dev.download(t.data, p);
  }

  release(): void {
    for (const b of this.#blocks) this.dev.allocator.release(b);
    this.#blocks = [];
  }
}

export interface CudaBackendOptions extends DeviceOptions {
  /** Device index (`cuda:N`). Default 0. */
  device?: number;
  /** Backend name. Default 'cuda' (device 0), 'cuda:N', or 'cuda-host' with the emulator. */
  name?: string;
  /** Most bytes of im2col columns a convolution stages at once (more images per GEMM launch). Default 256 MiB. */
  convWorkspaceBytes?: number;
}

/**
 * Creates the backend (opening the device). Throws with the reason when CUDA is unavailable; check
 * `available()` or `cudaUnavailableReason()` first. Register it with @convnet/tensor's registerBackend.
 */
export function createCudaBackend(opts: CudaBackendOptions = {}): Backend & { device: CudaDevice } {
  const index = opts.device ?? 0;
  const dev = CudaDevice.get(index, opts);
  const a = dev.addon;
  const convLimit = opts.convWorkspaceBytes ?? 256 * 1024 * 1024;
  const s = () => dev.stream;

  function run(body: (c: Call) => void): void {
    const c = new Call(dev);
    try {
      body(c);
      c.finish();
    } finally {
      c.release();
    }
  }

  /** Column workspace: as many images as fit in convLimit (at least one). */
  const convWorkspace = (c: Call, g: Conv2dInfo): [number, number] => {
    const geom = convGeom(g);
    const one = a.convWorkspaceBytes(geom, 1);
    const images = Math.max(1, Math.min(g.n, Math.floor(convLimit / Math.max(one, 1))));
    const bytes = a.convWorkspaceBytes(geom, images);
    return [c.scratch(Math.max(bytes, 4)), Math.max(bytes, 4)];
  };

  const kernels: KernelTable = {
    gemm: ({ a: A, b: B }, { transA, transB, alpha, beta }, { c: C }) => run((c) => {
      const [M, N] = C.shape;
      const K = transA ? A.shape[0] : A.shape[1];
      const pc = beta === 0 ? c.out(C) : c.inout(C);
      a.sgemm(s(), [M, N, K, A.shape[1], B.shape[1], N, 1, 0, 0, 0], transA, transB, false, alpha, beta, c.in(A), c.in(B), pc);
    }),
    conv2d: ({ x, w, b }, g, { y }) => run((c) => {
      const [ws, wsb] = convWorkspace(c, g);
      a.conv2dForward(s(), convGeom(g), c.in(x), c.in(w), b ? c.in(b) : 0, c.out(y), ws, wsb);
    }),
    conv2dBackwardInput: ({ dy, w }, g, { dx }) => run((c) => {
      const [ws, wsb] = convWorkspace(c, g);
      a.conv2dBackwardInput(s(), convGeom(g), c.in(dy), c.in(w), c.out(dx), ws, wsb);
    }),
    conv2dBackwardWeight: ({ x, dy }, g, { dw }) => run((c) => {
      const [ws, wsb] = convWorkspace(c, g);
      a.conv2dBackwardWeight(s(), convGeom(g), c.in(x), c.in(dy), c.out(dw), ws, wsb);
    }),
    conv2dBackwardBias: ({ dy }, _a, { db }) => run((c) =>
      a.biasGrad(s(), dy.shape[0], dy.shape[1], inner(dy.shape), c.in(dy), c.out(db))),
    biasAdd: ({ x, b }, _a, { y }) => run((c) =>
      a.biasAdd(s(), x.shape[0], x.shape[1], inner(x.shape), c.in(x), c.in(b), c.out(y))),
    maxPool2d: ({ x }, g, { y }) => run((c) => a.pool(s(), 0, poolGeom(g), false, c.in(x), 0, c.out(y))),
    maxPool2dBackward: ({ x, dy }, g, { dx }) => run((c) => a.pool(s(), 1, poolGeom(g), false, c.in(x), c.in(dy), c.out(dx))),
    avgPool2d: ({ x }, g, { y }) => run((c) => a.pool(s(), 2, poolGeom(g), g.countIncludePad, c.in(x), 0, c.out(y))),
    avgPool2dBackward: ({ dy }, g, { dx }) => run((c) => a.pool(s(), 3, poolGeom(g), g.countIncludePad, c.in(dy), 0, c.out(dx))),
    adaptiveAvgPool2d: ({ x }, g, { y }) => run((c) => a.pool(s(), 4, poolGeom(g), false, c.in(x), 0, c.out(y))),
    adaptiveAvgPool2dBackward: ({ dy }, g, { dx }) => run((c) => a.pool(s(), 5, poolGeom(g), false, c.in(dy), 0, c.out(dx))),
    lrn: ({ x }, p, { y, scale }) => run((c) => {
      const [n, ch, h, w] = x.shape;
      a.lrnForward(s(), n, ch, h * w, p.size, lrnCoef(p), p.beta, p.k, c.in(x), c.out(y), c.out(scale));
    }),
    lrnBackward: ({ x, y, scale, dy }, p, { dx }) => run((c) => {
      const [n, ch, h, w] = x.shape;
      a.lrnBackward(s(), n, ch, h * w, p.size, lrnCoef(p), p.beta, p.k, c.in(x), c.in(y), c.in(scale), c.in(dy), c.out(dx));
    }),
    activation: ({ x }, { fn }, { y }) => run((c) => a.activation(s(), ACT[fn], x.size, c.in(x), c.out(y))),
    activationBackward: ({ x, y, dy }, { fn }, { dx }) => run((c) =>
      a.activationBackward(s(), ACT[fn], x.size, c.in(x), c.in(y), c.in(dy), c.out(dx))),
    dropout: ({ x }, p, { y, mask }) => run((c) =>
      a.dropout(s(), x.size, p.seed, p.stream, p.offset, p.keepThreshold, p.scale, c.in(x), c.out(y), c.out(mask))),
    mul: ({ a: A, b: B }, _x, { y }) => run((c) => a.binary(s(), 1, A.size, c.in(A), c.in(B), c.out(y))),
    add: ({ a: A, b: B }, _x, { y }) => run((c) => a.binary(s(), 0, A.size, c.in(A), c.in(B), c.out(y))),
    scale: ({ x }, { alpha }, { y }) => run((c) => a.scale(s(), x.size, alpha, c.in(x), c.out(y))),
    axpy: ({ x }, { alpha }, { y }) => run((c) => a.axpy(s(), x.size, alpha, c.in(x), c.inout(y))),
    softmax: ({ x }, _a, { y }) => run((c) => a.softmax(s(), x.shape[0], x.shape[1], c.in(x), c.out(y))),
    softmaxCrossEntropy: ({ logits, labels }, { topk }, { loss, dlogits, hits }) => run((c) => {
      const n = logits.shape[0];
      const ws = c.scratch(Math.max(a.softmaxXentWorkspace(n), 4));
      const out = c.scratch(3 * 8);
      a.softmaxXent(s(), n, logits.shape[1], topk, c.in(logits), c.upload(labels), c.out(dlogits), ws, out);
      const r = new Float64Array(3);
      dev.download(r, out);
      loss.data[0] = r[0];
      hits.data[0] = r[1];
      hits.data[1] = r[2];
    }),
    sgdUpdate: ({ g }, p, { w, v }) => run((c) =>
      a.sgdUpdate(s(), w.size, p.lr, p.momentum, p.weightDecay, p.dampening, p.nesterov, p.rule === 'paper', p.firstStep, c.inout(w), c.inout(v), c.in(g))),
    adamUpdate: ({ g }, p, { w, m, v }) => run((c) =>
      a.adamUpdate(s(), w.size, p.lr, p.beta1, p.beta2, p.eps, p.weightDecay, p.decoupled,
        p.lr / (1 - p.beta1 ** p.step), Math.sqrt(1 - p.beta2 ** p.step), c.inout(w), c.inout(m), c.inout(v), c.in(g))),
    softmaxBackward: ({ y, dy }, _a, { dx }) => run((c) =>
      a.softmaxBackward(s(), y.shape[0], y.shape[1], c.in(y), c.in(dy), c.out(dx))),
    sumAndSquares: ({ x }, _a, { y }) => run((c) => {
      const ws = c.scratch(a.sumSquaresWorkspace());
      const out = c.scratch(2 * 8);
      a.sumAndSquares(s(), x.size, c.in(x), ws, out);
      const r = new Float64Array(2);
      dev.download(r, out);
      y.data[0] = r[0];
      y.data[1] = r[1];
    }),
  };

  const name = opts.name ?? (opts.emulator ? 'cuda-host' : index === 0 ? 'cuda' : `cuda:${index}`);
  return {
    name,
    description: opts.emulator
      ? 'the CUDA kernels run by the host emulator (tests and debugging; slow)'
      : `CUDA kernels on ${dev.name} (@convnet/cuda)`,
    kernels,
    device: dev,
    // contract C3: layers, losses and optimisers allocate through this, so their memory stays on the device
    alloc: (shape) => CudaTensor.zeros(shape, dev),
  };
}
