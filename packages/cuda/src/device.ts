/**
 * A CUDA device as the backend sees it: the addon, the device index (`cuda:N`), one compute stream (every
 * kernel and copy of the device, in order), one copy stream (uploads that overlap compute, ordered by an
 * event), and the caching allocator.
 */
import { loadAddon, type CudaAddon } from './addon.js';
import { CachingAllocator, type AllocatorOptions } from './allocator.js';
import { available } from './availability.js';

/** Host↔device copies made through this device since it was opened (device-to-device copies are not counted). */
export interface TransferStats {
  /** Host-to-device copies (uploads, including asynchronous ones) and their bytes. */
  uploads: number;
  uploadBytes: number;
  /** Device-to-host copies (downloads) and their bytes. */
  downloads: number;
  downloadBytes: number;
}

export interface DeviceOptions extends AllocatorOptions {
  /**
   * Run the kernels on the host emulator instead of a GPU (same kernel bodies, run by loops on the CPU):
   * for tests and debugging on machines without a GPU. Slow.
   */
  emulator?: boolean;
  /**
   * Strict memory mode: reading or writing a device tensor's `data` (the implicit host access that costs a
   * hidden device→host copy on a GPU) throws instead; explicit copies (toHost(), toHostTensor, copyFrom,
   * the backend's staging) still work. Default: the environment variable CONVNET_CUDA_STRICT=1. The tests run
   * training on `cuda-host` this way, so a hidden copy fails there as it would cost on the device.
   */
  strict?: boolean;
}

/** Which device each addon last made current (cudaSetDevice is per host thread; Node's JS runs on one). */
const currentDevice = new WeakMap<CudaAddon, number>();

export class CudaDevice {
  readonly index: number;
  readonly addon: CudaAddon;
  readonly allocator: CachingAllocator;
  readonly emulated: boolean;
  /** Strict memory mode (DeviceOptions.strict): implicit host access to device tensors throws. */
  readonly strict: boolean;
  /** Compute stream: kernels, staging copies, downloads. */
  readonly stream: number;
  /** Copy stream for uploadAsync. */
  readonly copyStream: number;
  #closed = false;
  readonly #transfers: TransferStats = { uploads: 0, uploadBytes: 0, downloads: 0, downloadBytes: 0 };
  /** Per-upload completion events not yet waited for, by source memory (which they keep alive). */
  readonly #pending = new Map<ArrayBufferLike, { event: number; src: ArrayBufferView }>();
  /** Completion events free for reuse. */
  readonly #events: number[] = [];
  /** Last-use events (recordUse). */
  readonly #ring: number[];
  #ringAt = 0;

  private constructor(addon: CudaAddon, index: number, emulated: boolean, opts: DeviceOptions) {
    this.addon = addon;
    this.index = index;
    this.emulated = emulated;
    this.strict = opts.strict ?? process.env.CONVNET_CUDA_STRICT === '1';
    this.activate();
    this.stream = addon.streamCreate();
    this.copyStream = addon.streamCreate();
    this.#ring = Array.from({ length: 8 }, () => addon.eventCreate());
    this.allocator = new CachingAllocator({
      malloc: (bytes) => (this.activate(), addon.malloc(bytes)),
      free: (ptr) => (this.activate(), addon.free(ptr)),
      synchronize: () => this.synchronize(),
    }, opts);
  }

  static #open = new Map<string, CudaDevice>();

  /**
   * The device `cuda:index` (opened once per process; options apply on first open). Throws with the
   * reason when CUDA is unavailable (see available()).
   */
  static get(index = 0, opts: DeviceOptions = {}): CudaDevice {
    if (!Number.isInteger(index) || index < 0) throw new Error(`cuda: device index must be a non-negative integer, got ${index}`);
    const key = `${opts.emulator ? 'host' : 'cuda'}:${index}`;
    const hit = CudaDevice.#open.get(key);
    if (hit && !hit.#closed) return hit;
    let addon: CudaAddon;
    if (opts.emulator) {
      const l = loadAddon('host');
      if (!l.addon) throw new Error(`cuda (emulator): ${l.error}`);
      if (index !== 0) throw new Error(`cuda (emulator): only device 0 exists, got ${index}`);
      addon = l.addon;
    } else {
      const a = available();
      if (!a.ok) throw new Error(`cuda: unavailable: ${a.reason}`);
      if (index >= a.devices.length) throw new Error(`cuda: there is no device ${index} (this machine has ${a.devices.length})`);
      addon = loadAddon('cuda').addon!;
    }
    const d = new CudaDevice(addon, index, !!opts.emulator, opts);
    CudaDevice.#open.set(key, d);
    return d;
  }

  get name(): string {
    return `${this.emulated ? 'cuda-host' : 'cuda'}:${this.index}`;
  }

  /** Makes this device current for the calls that follow. */
  activate(): void {
    if (this.#closed) throw new Error(`${this.name}: device closed`);
    if (currentDevice.get(this.addon) !== this.index) {
      this.addon.setDevice(this.index);
      currentDevice.set(this.addon, this.index);
    }
  }

  /**
   * Host↔device copies so far (a snapshot). Every copy between host memory and this device goes through
   * upload/uploadAsync/download, so this counts all of them, on a GPU and on the emulator alike: the
   * trainer reports it per step and the tests pin it.
   */
  transfers(): TransferStats {
    return { ...this.#transfers };
  }

  /** Copies host bytes to device address `ptr` on the compute stream. */
  upload(ptr: number, src: ArrayBufferView): void {
    this.activate();
    this.#transfers.uploads++;
    this.#transfers.uploadBytes += src.byteLength;
    this.addon.upload(ptr, src, this.stream);
  }

  /** Copies device bytes at `ptr` into `dst` and waits for them. */
  download(dst: ArrayBufferView, ptr: number): void {
    this.activate();
    this.#transfers.downloads++;
    this.#transfers.downloadBytes += dst.byteLength;
    this.addon.download(dst, ptr, this.stream);
    this.addon.streamSynchronize(this.stream);
  }

  /**
   * Uploads on the copy stream so the copy overlaps kernels already queued; kernels queued after this call
   * wait for it (a per-upload event). `src` should be page-locked (allocPinned) for the copy to be
   * asynchronous; it is kept referenced (alive) until its upload is known to be done, and must not be written
   * before `waitForUpload(src)` (or synchronize()) returns.
   *
   * `after` orders the copy after compute-stream work on the destination block (PyTorch's recordStream rule):
   * 'all' waits for everything queued on the compute stream so far (a fresh block whose previous owner may
   * still have kernels queued, or a host mirror just uploaded there); an event waits for that block's last use.
   */
  uploadAsync(ptr: number, src: ArrayBufferView, after: 'all' | number | null = 'all'): void {
    this.activate();
    this.#transfers.uploads++;
    this.#transfers.uploadBytes += src.byteLength;
    const a = this.addon;
    if (after === 'all') {
      const e = this.recordUse();
      a.streamWaitEvent(this.copyStream, e);
    } else if (after !== null) a.streamWaitEvent(this.copyStream, after);
    this.waitForUpload(src);  // an earlier upload from the same memory: its event is reused below
    a.upload(ptr, src, this.copyStream);
    const done = this.#events.pop() ?? a.eventCreate();
    a.eventRecord(done, this.copyStream);
    a.streamWaitEvent(this.stream, done);
    this.#pending.set(src.buffer, { event: done, src });
  }

  /** Waits until the last asynchronous upload from `src`'s memory has been read, so `src` may be written again. */
  waitForUpload(src: ArrayBufferView): void {
    const p = this.#pending.get(src.buffer);
    if (!p) return;
    this.activate();
    this.addon.eventSynchronize(p.event);
    this.#pending.delete(src.buffer);
    this.#events.push(p.event);
  }

  /**
   * Records the compute stream's current position in one of a ring of events and returns it: a block's
   * "last use". A ring event recorded again later marks a later point, which is still a safe (later) wait.
   */
  recordUse(): number {
    this.activate();
    const e = this.#ring[this.#ringAt++ % this.#ring.length];
    this.addon.eventRecord(e, this.stream);
    return e;
  }

  /** A Float32Array in page-locked host memory (freed when garbage-collected). */
  allocPinned(length: number): Float32Array {
    if (!Number.isSafeInteger(length) || length < 1) throw new Error(`${this.name}: allocPinned: length must be a positive integer, got ${length}`);
    this.activate();
    return new Float32Array(this.addon.hostAlloc(length * 4));
  }

  /** Waits for all work queued on this device's streams. */
  synchronize(): void {
    this.activate();
    this.addon.streamSynchronize(this.copyStream);
    this.addon.streamSynchronize(this.stream);
    for (const p of this.#pending.values()) this.#events.push(p.event);
    this.#pending.clear();
  }

  /** [free, total] device bytes (0, 0 on the emulator). */
  memoryInfo(): { free: number; total: number } {
    this.activate();
    const [free, total] = this.addon.memInfo();
    return { free, total };
  }
}
