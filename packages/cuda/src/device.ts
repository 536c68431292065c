/**
 * A CUDA device as the backend sees it: the addon, the device index (`cuda:N`), one compute stream (every
 * kernel and copy of the device, in order), one copy stream (uploads that overlap compute, ordered by an
 * event), and the caching allocator.
 */
import { loadAddon, type CudaAddon } from './addon.js';
import { CachingAllocator, type AllocatorOptions } from './allocator.js';
import { available } from './availability.js';

export interface DeviceOptions extends AllocatorOptions {
  /**
   * Run the kernels on the host emulator instead of a GPU (same kernel bodies, run by loops on the CPU):
   * for tests and debugging on machines without a GPU. Slow.
   */
  emulator?: boolean;
}

/** Which device each addon last made current (cudaSetDevice is per host thread; Node's JS runs on one). */
const currentDevice = new WeakMap<CudaAddon, number>();

export class CudaDevice {
  readonly index: number;
  readonly addon: CudaAddon;
  readonly allocator: CachingAllocator;
  readonly emulated: boolean;
  /** Compute stream: kernels, staging copies, downloads. */
  readonly stream: number;
  /** Copy stream for uploadAsync. */
  readonly copyStream: number;
  #copyDone: number;
  #closed = false;

  private constructor(addon: CudaAddon, index: number, emulated: boolean, opts: AllocatorOptions) {
    this.addon = addon;
    this.index = index;
    this.emulated = emulated;
    this.activate();
    this.stream = addon.streamCreate();
    this.copyStream = addon.streamCreate();
    this.#copyDone = addon.eventCreate();
    this.allocator = new CachingAllocator({
      malloc: (bytes) => (this.activate(), addon.malloc(bytes)),
      free: (ptr) => (this.activate(), addon.free(ptr)),
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

  /** Copies host bytes to device address `ptr` on the compute stream. */
  upload(ptr: number, src: ArrayBufferView): void {
    this.activate();
    this.addon.upload(ptr, src, this.stream);
  }

  /** Copies device bytes at `ptr` into `dst` and waits for them. */
  download(dst: ArrayBufferView, ptr: number): void {
    this.activate();
    this.addon.download(dst, ptr, this.stream);
    this.addon.streamSynchronize(this.stream);
  }

  /**
   * Uploads on the copy stream so the copy overlaps kernels already queued; kernels queued after this call
   * wait for it (an event). `src` should be page-locked (allocPinned) for the copy to be asynchronous, and
   * must not be changed until synchronize().
   */
  uploadAsync(ptr: number, src: ArrayBufferView): void {
    this.activate();
    this.addon.upload(ptr, src, this.copyStream);
    this.addon.eventRecord(this.#copyDone, this.copyStream);
    this.addon.streamWaitEvent(this.stream, this.#copyDone);
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
  }

  /** [free, total] device bytes (0, 0 on the emulator). */
  memoryInfo(): { free: number; total: number } {
    this.activate();
    const [free, total] = this.addon.memInfo();
    return { free, total };
  }
}
