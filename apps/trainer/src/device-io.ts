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
  /** Host↔device transfers so far; null on host backends. */
  transfers(): Transfers | null;
}

export function deviceInput(backend: string, shape: number[]): DeviceInput {
  const dev = (getBackend(backend) as { device?: DeviceLike }).device;
  if (memoryFor(backend) === 'host' || !dev || typeof dev.allocPinned !== 'function') {
    const host = Tensor.zeros(shape);
    return { host, beforeFill() {}, upload: () => host, transfers: () => null };
  }
  const pinned = dev.allocPinned(shape.reduce((a, d) => a * d, 1));
  const host = new Tensor(pinned, shape);
  const onDevice = [alloc(shape, backend), alloc(shape, backend)] as AsyncTarget[];
  let k = 0;
  return {
    host,
    beforeFill: () => dev.waitForUpload?.(pinned),
    upload: () => onDevice[k++ & 1].copyFromAsync(pinned),
    transfers: () => dev.transfers(),
  };
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
