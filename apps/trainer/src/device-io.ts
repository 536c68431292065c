/**
 * The input side of a training step on a device backend, and the transfer counts the trainer reports.
 *
 * On a backend with its own memory (contract C3: `memoryFor(backend) !== 'host'`) the data source fills a host
 * batch in page-locked memory (`device.allocPinned`) and `upload()` copies it into one of two device tensors
 * on the device's copy stream (`copyFromAsync`), so the copy overlaps what the device still runs of the previous
 * step, and the step after uses the other tensor. The loader waits for that upload to finish before it writes
 * the pinned batch again (`waitForUpload`). On host backends the batch is the net's input, unchanged.
 *
 * `transfers()` reads the device's host↔device counters (uploads/downloads and bytes); a training step on the
 * device moves exactly the images and labels up and the loss/hit scalars down.
 */
import { Tensor, alloc, getBackend, memoryFor } from '@convnet/tensor';

export interface Transfers { uploads: number; uploadBytes: number; downloads: number; downloadBytes: number }

/** What the trainer needs of a device (duck-typed: @convnet/cuda's CudaDevice). */
interface DeviceLike {
  allocPinned(length: number): Float32Array;
  transfers(): Transfers;
  waitForUpload?(src: ArrayBufferView): void;
}
interface AsyncTarget extends Tensor {
  copyFromAsync(src: Float32Array): Tensor;
}

export interface DeviceInput {
  /** The batch the data source fills (pinned host memory on a device). */
  readonly host: Tensor;
  /** Before the data source writes `host` again: waits until its previous upload has left it. */
  beforeFill(): void;
  /** The tensor the net reads this step (the device copy of `host`, uploaded asynchronously). */
  upload(): Tensor;
  /** Host↔device transfers so far, less those made inside aside(); null on host backends. */
  transfers(): Transfers | null;
  /** Runs `fn` (a checkpoint: its downloads) without counting its transfers in transfers(). */
  aside<T>(fn: () => T): T;
}

export function deviceInput(backend: string, shape: number[]): DeviceInput {
  const dev = (getBackend(backend) as { device?: DeviceLike }).device;
  if (memoryFor(backend) === 'host' || !dev || typeof dev.allocPinned !== 'function') {
    const host = Tensor.zeros(shape);
    return { host, beforeFill() {}, upload: () => host, transfers: () => null, aside: (fn) => fn() };
  }
  const pinned = dev.allocPinned(shape.reduce((a, d) => a * d, 1));
  const host = new Tensor(pinned, shape);
  const onDevice = [alloc(shape, backend), alloc(shape, backend)] as AsyncTarget[];
  let k = 0;
  const skipped: Transfers = { uploads: 0, uploadBytes: 0, downloads: 0, downloadBytes: 0 };
  const keys = Object.keys(skipped) as (keyof Transfers)[];
  return {
    host,
    beforeFill: () => dev.waitForUpload?.(pinned),
    upload: () => onDevice[k++ & 1].copyFromAsync(pinned),
    transfers: () => {
      const t = dev.transfers();
      for (const key of keys) t[key] -= skipped[key];
      return t;
    },
    aside(fn) {
      const a = dev.transfers();
      try {
        return fn();
      } finally {
        const b = dev.transfers();
        for (const key of keys) skipped[key] += b[key] - a[key];
      }
    },
  };
}

/**
 * Batches of varying size (evaluation: the last batch may be short) uploaded like training's: `host(shape)` is a
 * tensor in page-locked memory for the data source to fill (after the previous upload from it has left),
 * `upload(x)` starts the asynchronous copy into one of two device buffers and returns the device tensor (a host
 * `x` that is not the pinned batch is first copied into it). Host backends: `host` gives a fresh zero tensor and
 * `upload` returns `x` itself, exactly as before.
 */
export interface DeviceBatches {
  host(shape: number[]): Tensor;
  upload(x: Tensor): Tensor;
  transfers(): Transfers | null;
}

export function deviceBatches(backend: string): DeviceBatches {
  const dev = (getBackend(backend) as { device?: DeviceLike }).device;
  if (memoryFor(backend) === 'host' || !dev || typeof dev.allocPinned !== 'function')
    return { host: (shape) => Tensor.zeros(shape), upload: (x) => x, transfers: () => null };
  let pinned: Float32Array | null = null;
  let sample: number[] = [];
  let onDevice: AsyncTarget[] = [];
  const views = new Map<number, AsyncTarget[]>();
  let k = 0;
  const size = (shape: number[]) => shape.reduce((a, d) => a * d, 1);
  const room = (shape: number[]) => {
    const rest = shape.slice(1);
    if (!pinned || pinned.length < size(shape) || rest.length !== sample.length || rest.some((d, i) => d !== sample[i])) {
      if (pinned) dev.waitForUpload?.(pinned);
      for (const t of [...onDevice, ...[...views.values()].flat()]) t.dispose();
      views.clear();
      pinned = dev.allocPinned(size(shape));
      sample = rest;
      onDevice = [alloc(shape, backend), alloc(shape, backend)] as AsyncTarget[];
    }
    return pinned;
  };
  const target = (n: number): AsyncTarget => {
    const which = k++ & 1;
    if (n === onDevice[which].shape[0]) return onDevice[which];
    let v = views.get(n);
    if (!v) views.set(n, (v = onDevice.map((t) => t.batch(0, n)) as AsyncTarget[]));
    return v[which];
  };
  return {
    host(shape) {
      const p = room(shape);
      dev.waitForUpload?.(p);
      return new Tensor(p.subarray(0, size(shape)), shape);
    },
    upload(x) {
      const p = room(x.shape as number[]);
      const src = p.subarray(0, x.size);
      const d = x.data;
      if (d.buffer !== p.buffer || d.byteOffset !== p.byteOffset) {
        dev.waitForUpload?.(p);
        src.set(d);
      }
      return target(x.shape[0]).copyFromAsync(src);
    },
    transfers: () => dev.transfers(),
  };
}

/** The host↔device counters of `backend`'s device; null on host backends. */
export function deviceTransfers(backend: string): Transfers | null {
  const dev = (getBackend(backend) as { device?: DeviceLike }).device;
  return memoryFor(backend) === 'host' || !dev || typeof dev.transfers !== 'function' ? null : dev.transfers();
}

/** Per-step transfer figures between two counter snapshots over `steps` steps. */
export function perStep(a: Transfers, b: Transfers, steps: number): { transfersPerStep: number; bytesPerStep: number; uploadsPerStep: number; downloadsPerStep: number } {
  const s = Math.max(steps, 1);
  const up = b.uploads - a.uploads, down = b.downloads - a.downloads;
  return {
    transfersPerStep: (up + down) / s, uploadsPerStep: up / s, downloadsPerStep: down / s,
    bytesPerStep: (b.uploadBytes - a.uploadBytes + b.downloadBytes - a.downloadBytes) / s,
  };
}
