/**
 * The `cuda` backend: every kernel of @convnet/tensor's spec (kernels.ts) on a CudaDevice. Tensors that
 * are CudaTensors of the same device are used in place (no transfer); plain host Tensors are staged
 * through blocks of the caching allocator (upload, run, download), so every op works with either and the
 * shared conformance suite runs unchanged. Geometry arrays are the same as the `cpu` backend's.
 */
import { type Backend, type Conv2dInfo, type KernelTable, Tensor } from '@convnet/tensor';
import type { Block } from './allocator.js';
import { CudaDevice, type DeviceOptions } from './device.js';
import { CudaTensor } from './tensor.js';

// Addon calls follow the native ABI (convnet/abi.h): kernel(stream, attrs, ...inputs, ...outputs[, scratch]).
const channels = (shape: readonly number[]) => ({ n: shape[0], c: shape[1], inner: shape.slice(2).reduce((a, d) => a * d, 1) });

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

  /** Outputs marked written on the device and last uses recorded (once per call: by finish, or by release). */
  #settle(): void {
    for (const t of this.#written) t.markDeviceWritten();
    // last use of blocks that receive async uploads (the copy stream waits for it before overwriting them)
    let e: number | null = null;
    for (const t of this.#used) t.noteUse(() => (e ??= this.dev.recordUse()));
    this.#written = [];
    this.#used = [];
  }

  finish(): void {
    this.#settle();
    for (const [t, p] of this.#downloads) if (t.size > 0) this.dev.download(t.data, p);
  }

  /**
   * Returns the scratch blocks. A call that threw midway may have queued kernels already: their tensors' last
   * use is recorded here too (and their outputs count as written on the device), so a later async upload into
   * one of them still waits for those kernels.
   */
  release(): void {
    try {
      this.#settle();
    } finally {
      for (const b of this.#blocks) this.dev.allocator.release(b);
      this.#blocks = [];
    }
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
export function createCudaBackend(opts: CudaBackendOptions = {}): Backend & { device: CudaDevice; run(body: (c: Call) => void): void } {
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
    const one = a.conv2dWorkspaceBytes(g, 1);
    const images = Math.max(1, Math.min(g.n, Math.floor(convLimit / Math.max(one, 1))));
    const bytes = a.conv2dWorkspaceBytes(g, images);
    return [c.scratch(Math.max(bytes, 4)), Math.max(bytes, 4)];
  };

  const kernels: KernelTable = {
    gemm: ({ a: A, b: B }, attrs, { c: C }) => run((c) => {
      const [M, N] = C.shape;
      const pc = attrs.beta === 0 ? c.out(C) : c.inout(C);
      a.gemm(s(), { ...attrs, M, N, K: attrs.transA ? A.shape[0] : A.shape[1] }, c.in(A), c.in(B), pc);
    }),
    conv2d: ({ x, w, b }, g, { y }) => run((c) => {
      const [ws, wsb] = convWorkspace(c, g);
      a.conv2d(s(), g, c.in(x), c.in(w), b ? c.in(b) : 0, c.out(y), ws, wsb);
    }),
    conv2dBackwardInput: ({ dy, w }, g, { dx }) => run((c) => {
      const [ws, wsb] = convWorkspace(c, g);
      a.conv2dBackwardInput(s(), g, c.in(dy), c.in(w), c.out(dx), ws, wsb);
    }),
    conv2dBackwardWeight: ({ x, dy }, g, { dw }) => run((c) => {
      const [ws, wsb] = convWorkspace(c, g);
      a.conv2dBackwardWeight(s(), g, c.in(x), c.in(dy), c.out(dw), ws, wsb);
    }),
    conv2dBackwardBias: ({ dy }, _a, { db }) => run((c) =>
      a.conv2dBackwardBias(s(), channels(dy.shape), c.in(dy), c.out(db))),
    biasAdd: ({ x, b }, _a, { y }) => run((c) =>
      a.biasAdd(s(), channels(x.shape), c.in(x), c.in(b), c.out(y))),
    maxPool2d: ({ x }, g, { y }) => run((c) => a.maxPool2d(s(), g, c.in(x), c.out(y))),
    maxPool2dBackward: ({ x, dy }, g, { dx }) => run((c) => a.maxPool2dBackward(s(), g, c.in(x), c.in(dy), c.out(dx))),
    avgPool2d: ({ x }, g, { y }) => run((c) => a.avgPool2d(s(), g, c.in(x), c.out(y))),
    avgPool2dBackward: ({ dy }, g, { dx }) => run((c) => a.avgPool2dBackward(s(), g, c.in(dy), c.out(dx))),
    adaptiveAvgPool2d: ({ x }, g, { y }) => run((c) => a.adaptiveAvgPool2d(s(), g, c.in(x), c.out(y))),
    adaptiveAvgPool2dBackward: ({ dy }, g, { dx }) => run((c) => a.adaptiveAvgPool2dBackward(s(), g, c.in(dy), c.out(dx))),
    lrn: ({ x }, p, { y, scale }) => run((c) => {
      const [n, ch, h, w] = x.shape;
      a.lrn(s(), { ...p, n, c: ch, plane: h * w }, c.in(x), c.out(y), c.out(scale));
    }),
    lrnBackward: ({ x, y, scale, dy }, p, { dx }) => run((c) => {
      const [n, ch, h, w] = x.shape;
      a.lrnBackward(s(), { ...p, n, c: ch, plane: h * w }, c.in(x), c.in(y), c.in(scale), c.in(dy), c.out(dx));
    }),
    activation: ({ x }, { fn }, { y }) => run((c) => a.activation(s(), { fn, len: x.size }, c.in(x), c.out(y))),
    activationBackward: ({ x, y, dy }, { fn }, { dx }) => run((c) =>
      a.activationBackward(s(), { fn, len: x.size }, c.in(x), c.in(y), c.in(dy), c.out(dx))),
    dropout: ({ x }, p, { y, mask }) => run((c) =>
      a.dropout(s(), { ...p, len: x.size }, c.in(x), c.out(y), c.out(mask))),
    mul: ({ a: A, b: B }, _x, { y }) => run((c) => a.mul(s(), { len: A.size }, c.in(A), c.in(B), c.out(y))),
    add: ({ a: A, b: B }, _x, { y }) => run((c) => a.add(s(), { len: A.size }, c.in(A), c.in(B), c.out(y))),
    scale: ({ x }, { alpha }, { y }) => run((c) => a.scale(s(), { len: x.size, alpha }, c.in(x), c.out(y))),
    axpy: ({ x }, { alpha }, { y }) => run((c) => a.axpy(s(), { len: x.size, alpha }, c.in(x), c.inout(y))),
    softmax: ({ x }, _a, { y }) => run((c) => a.softmax(s(), { n: x.shape[0], classes: x.shape[1] }, c.in(x), c.out(y))),
    softmaxCrossEntropy: ({ logits, labels }, { topk }, { loss, dlogits, hits }) => run((c) => {
      const n = logits.shape[0];
      const ws = c.scratch(Math.max(a.softmaxCrossEntropyWorkspace(n), 4));
      const out = c.scratch(3 * 8);
      a.softmaxCrossEntropy(s(), { n, classes: logits.shape[1], topk }, c.in(logits), c.upload(labels), c.out(dlogits), ws, out);
      const r = new Float64Array(3);
      dev.download(r, out);
      loss.data[0] = r[0];
      hits.data[0] = r[1];
      hits.data[1] = r[2];
    }),
    sgdUpdate: ({ g }, p, { w, v }) => run((c) =>
      a.sgdUpdate(s(), { ...p, len: w.size }, c.in(g), c.inout(w), c.inout(v))),
    adamUpdate: ({ g }, p, { w, m, v }) => run((c) =>
      a.adamUpdate(s(), { ...p, len: w.size, stepSize: p.lr / (1 - p.beta1 ** p.step), sqrtBc2: Math.sqrt(1 - p.beta2 ** p.step) },
        c.in(g), c.inout(w), c.inout(m), c.inout(v))),
    softmaxBackward: ({ y, dy }, _a, { dx }) => run((c) =>
      a.softmaxBackward(s(), { n: y.shape[0], classes: y.shape[1] }, c.in(y), c.in(dy), c.out(dx))),
    sumAndSquares: ({ x }, _a, { y }) => run((c) => {
      const ws = c.scratch(a.sumAndSquaresWorkspace());
      const out = c.scratch(2 * 8);
      a.sumAndSquares(s(), { len: x.size }, c.in(x), ws, out);
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
    // for kernel packages (e.g. @convnet/kernels-batchnorm): one call scope that resolves tensors to device
    // addresses (staging host tensors) and returns scratch to the allocator
    run,
    // contract C3: layers, losses and optimisers allocate through this, so their memory stays on the device
    alloc: (shape) => CudaTensor.zeros(shape, dev),
  };
}
