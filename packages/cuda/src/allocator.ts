/**
 * A caching device allocator (the scheme of PyTorch's CUDA caching allocator, simplified): freed blocks go
 * to a cache keyed by their rounded size and are handed out again without cudaMalloc/cudaFree (both
 * synchronise the device); the cache grows on demand and is emptied when a new allocation would pass the
 * cap or the device runs out of memory. Blocks are never split. Reuse is safe because every kernel and copy
 * of one device runs on one stream, in order: a block released after enqueuing work is only reused by work
 * enqueued later on the same stream.
 *
 * The device is anything with malloc/free (the addon, or a fake in the tests), so the bookkeeping is
 * tested without a GPU.
 *
 * Freeing a cached block first waits for the device (DeviceMemory.synchronize): cudaFree may or may not
 * synchronise by itself, and a block's last kernels may still be queued when it is released.
 *
 * Exact mode (AllocatorOptions.exact, CONVNET_CUDA_EXACT_ALLOC=1): every block is exactly the size asked for
 * and released blocks are freed at once (after a synchronise), never cached: so compute-sanitizer's memcheck
 * sees an access one element past a tensor (in a rounded or reused block it lands in slack it cannot see) and a
 * use after release. Slow (a cudaMalloc/cudaFree per tensor); for debugging and the device check's sanitizer runs.
 */

export interface DeviceMemory {
  /** Returns a device address; throws an Error with code 'CUDA_OUT_OF_MEMORY' when the device is full. */
  malloc(bytes: number): number;
  free(ptr: number): void;
  /** Waits until the device has finished all queued work (called before blocks are freed). */
  synchronize?(): void;
}

export interface Block {
  readonly ptr: number;
  /** Rounded size actually reserved. */
  readonly size: number;
  /** Size asked for. */
  readonly requested: number;
}

export interface AllocatorStats {
  /** Bytes in blocks handed out and not released (rounded sizes). */
  inUseBytes: number;
  /** Bytes in cached (released, not yet freed) blocks. */
  cachedBytes: number;
  /** inUse + cached: what the allocator holds on the device. */
  reservedBytes: number;
  peakInUseBytes: number;
  peakReservedBytes: number;
  blocksInUse: number;
  blocksCached: number;
  /** Device malloc / free calls made. */
  deviceMallocs: number;
  deviceFrees: number;
  /** alloc() calls served from the cache / by a new device allocation. */
  cacheHits: number;
  cacheMisses: number;
  /** Times the cache was emptied to make room (cap reached or device out of memory). */
  cacheFlushes: number;
  capBytes: number;
}

export interface AllocatorOptions {
  /** Most bytes the allocator may hold on the device (in use + cached). Default: no cap. */
  capBytes?: number;
  /** A cached block is reused for a request of at least size / maxWaste (default 2). */
  maxWaste?: number;
  /**
   * Exact-size mode: no rounding, no cache (a released block is freed at once, after a synchronise). Default:
   * the environment variable CONVNET_CUDA_EXACT_ALLOC=1.
   */
  exact?: boolean;
}

export class CudaOutOfMemoryError extends Error {
  readonly code = 'CUDA_OUT_OF_MEMORY';
  constructor(message: string) {
    super(message);
    this.name = 'CudaOutOfMemoryError';
  }
}

const KiB = 1024, MiB = 1024 * KiB;

/** Requests up to 1 MiB round up to a multiple of 512 bytes, larger ones to a multiple of 1 MiB. */
export function roundSize(bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`allocator: size must be a non-negative integer, got ${bytes}`);
  const b = Math.max(bytes, 1);
  return b <= MiB ? Math.ceil(b / 512) * 512 : Math.ceil(b / MiB) * MiB;
}

/** Exact mode: the size asked for (at least one byte; the device rejects empty allocations). */
function exactSize(bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`allocator: size must be a non-negative integer, got ${bytes}`);
  return Math.max(bytes, 1);
}

const fmtBytes = (b: number) => (b >= MiB ? `${(b / MiB).toFixed(1)} MiB` : `${b} B`);

export class CachingAllocator {
  readonly #device: DeviceMemory;
  readonly #cap: number;
  readonly #maxWaste: number;
  readonly exact: boolean;
  /** size → addresses of cached blocks of that size */
  readonly #free = new Map<number, number[]>();
  /** sorted distinct sizes present in #free */
  #sizes: number[] = [];
  readonly #inUse = new Map<number, Block>();
  #s: AllocatorStats;

  constructor(device: DeviceMemory, opts: AllocatorOptions = {}) {
    const cap = opts.capBytes ?? Infinity;
    if (!(cap > 0)) throw new RangeError(`allocator: capBytes must be positive, got ${cap}`);
    const waste = opts.maxWaste ?? 2;
    if (!(waste >= 1)) throw new RangeError(`allocator: maxWaste must be >= 1, got ${waste}`);
    this.#device = device;
    this.#cap = cap;
    this.#maxWaste = waste;
    this.exact = opts.exact ?? process.env.CONVNET_CUDA_EXACT_ALLOC === '1';
    this.#s = {
      inUseBytes: 0, cachedBytes: 0, reservedBytes: 0, peakInUseBytes: 0, peakReservedBytes: 0, blocksInUse: 0,
      blocksCached: 0, deviceMallocs: 0, deviceFrees: 0, cacheHits: 0, cacheMisses: 0, cacheFlushes: 0, capBytes: cap,
    };
  }

  /** A block of at least `bytes` bytes: a cached one when one fits, else a new device allocation. */
  alloc(bytes: number): Block {
    const size = this.exact ? exactSize(bytes) : roundSize(bytes);
    const cached = this.exact ? null : this.#takeCached(size);
    let ptr: number;
    if (cached !== null) {
      this.#s.cacheHits++;
      ptr = cached.ptr;
      return this.#handOut({ ptr, size: cached.size, requested: bytes });
    }
    this.#s.cacheMisses++;
    if (this.#s.reservedBytes + size > this.#cap) {
      this.emptyCache(true);
      if (this.#s.reservedBytes + size > this.#cap)
        throw new CudaOutOfMemoryError(`cuda: allocating ${fmtBytes(size)} would pass the allocator cap of ${fmtBytes(this.#cap)} (${fmtBytes(this.#s.inUseBytes)} in use)`);
    }
    ptr = this.#mallocRetrying(size);
    this.#s.deviceMallocs++;
    this.#s.reservedBytes += size;
    this.#s.peakReservedBytes = Math.max(this.#s.peakReservedBytes, this.#s.reservedBytes);
    return this.#handOut({ ptr, size, requested: bytes });
  }

  /** Returns a block to the cache (it stays reserved on the device). */
  release(block: Block): void {
    const b = this.#inUse.get(block.ptr);
    if (!b || b !== block) throw new Error(`allocator: block at 0x${block.ptr.toString(16)} released twice or not from this allocator`);
    this.#inUse.delete(block.ptr);
    this.#s.inUseBytes -= b.size;
    this.#s.blocksInUse--;
    if (this.exact) {
      this.#device.synchronize?.();
      this.#device.free(b.ptr);
      this.#s.deviceFrees++;
      this.#s.reservedBytes -= b.size;
      return;
    }
    let list = this.#free.get(b.size);
    if (!list) {
      list = [];
      this.#free.set(b.size, list);
      this.#insertSize(b.size);
    }
    list.push(b.ptr);
    this.#s.cachedBytes += b.size;
    this.#s.blocksCached++;
  }

  /** Frees every cached block on the device (after waiting for the device: their last kernels may be queued). */
  emptyCache(flush = false): void {
    if (this.#s.blocksCached === 0) return;
    if (flush) this.#s.cacheFlushes++;
    this.#device.synchronize?.();
    for (const [size, list] of this.#free) {
      for (const ptr of list) {
        this.#device.free(ptr);
        this.#s.deviceFrees++;
        this.#s.reservedBytes -= size;
      }
    }
    this.#free.clear();
    this.#sizes = [];
    this.#s.cachedBytes = 0;
    this.#s.blocksCached = 0;
  }

  stats(): AllocatorStats {
    return { ...this.#s };
  }

  #handOut(b: Block): Block {
    this.#inUse.set(b.ptr, b);
    this.#s.inUseBytes += b.size;
    this.#s.blocksInUse++;
    this.#s.peakInUseBytes = Math.max(this.#s.peakInUseBytes, this.#s.inUseBytes);
    return b;
  }

  /** The smallest cached block of size in [size, size·maxWaste], removed from the cache. */
  #takeCached(size: number): { ptr: number; size: number } | null {
    const sizes = this.#sizes;
    let lo = 0, hi = sizes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sizes[mid] < size) lo = mid + 1;
      else hi = mid;
    }
    if (lo >= sizes.length || sizes[lo] > size * this.#maxWaste) return null;
    const s = sizes[lo];
    const list = this.#free.get(s)!;
    const ptr = list.pop()!;
    if (list.length === 0) {
      this.#free.delete(s);
      sizes.splice(lo, 1);
    }
    this.#s.cachedBytes -= s;
    this.#s.blocksCached--;
    return { ptr, size: s };
  }

  #insertSize(size: number): void {
    const sizes = this.#sizes;
    let i = sizes.length;
    while (i > 0 && sizes[i - 1] > size) i--;
    sizes.splice(i, 0, size);
  }

  /** Device malloc; when the device is out of memory, frees the cache and tries once more. */
  #mallocRetrying(size: number): number {
    try {
      return this.#device.malloc(size);
    } catch (e) {
      if ((e as { code?: string }).code !== 'CUDA_OUT_OF_MEMORY') throw e;
      this.emptyCache(true);
      try {
        return this.#device.malloc(size);
      } catch (e2) {
        if ((e2 as { code?: string }).code !== 'CUDA_OUT_OF_MEMORY') throw e2;
        throw new CudaOutOfMemoryError(`cuda: out of device memory allocating ${fmtBytes(size)} (${fmtBytes(this.#s.inUseBytes)} in use by this allocator, cache emptied and retried)`);
      }
    }
  }
}
