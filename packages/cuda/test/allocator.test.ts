// The caching allocator's bookkeeping against a fake device that records every malloc/free.
import { describe, expect, it } from 'vitest';
import { CachingAllocator, CudaOutOfMemoryError, roundSize, type DeviceMemory } from '../src/allocator.js';

const MiB = 1024 * 1024;

class FakeDevice implements DeviceMemory {
  next = 0x10000;
  live = new Map<number, number>();
  mallocs = 0;
  frees = 0;
  constructor(public capacity = Infinity) {}
  get used() {
    let s = 0;
    for (const b of this.live.values()) s += b;
    return s;
  }
  malloc(bytes: number): number {
    if (this.used + bytes > this.capacity) throw Object.assign(new Error('fake: out of memory'), { code: 'CUDA_OUT_OF_MEMORY' });
    const p = this.next;
    this.next += bytes + 4096;
    this.live.set(p, bytes);
    this.mallocs++;
    return p;
  }
  /** Calls in order: 'sync' and 'free <ptr>' (a free must come after a synchronise). */
  log: string[] = [];
  free(ptr: number): void {
    if (!this.live.delete(ptr)) throw new Error(`fake: double free of ${ptr}`);
    this.frees++;
    this.log.push(`free ${ptr}`);
  }
  synchronize(): void {
    this.log.push('sync');
  }
}

describe('CachingAllocator', () => {
  it('rounds sizes: 512-byte steps up to 1 MiB, then 1 MiB steps', () => {
    expect([0, 1, 512, 513, MiB, MiB + 1, 3 * MiB - 5].map(roundSize)).toEqual([512, 512, 512, 1024, MiB, 2 * MiB, 3 * MiB]);
    expect(() => roundSize(-1)).toThrow(/non-negative integer/);
    expect(() => roundSize(1.5)).toThrow(/non-negative integer/);
  });

  it('reuses released blocks (a training step\'s fixed shapes cost no mallocs after the first step)', () => {
    const dev = new FakeDevice();
    const al = new CachingAllocator(dev);
    const sizes = [4000, 123_456, 5 * MiB, 4000, 77];
    for (let step = 0; step < 5; step++) {
      const blocks = sizes.map((s) => al.alloc(s));
      expect(new Set(blocks.map((b) => b.ptr)).size).toBe(sizes.length);
      for (const b of blocks) al.release(b);
    }
    const st = al.stats();
    expect(dev.mallocs).toBe(5);
    expect(st.deviceMallocs).toBe(5);
    expect(st.cacheMisses).toBe(5);
    expect(st.cacheHits).toBe(20);
    expect(st.inUseBytes).toBe(0);
    expect(st.blocksInUse).toBe(0);
    expect(st.blocksCached).toBe(5);
    const reserved = 2 * 4096 + 123_904 + 5 * MiB + 512;
    expect(st.reservedBytes).toBe(reserved);
    expect(st.cachedBytes).toBe(reserved);
    expect(st.peakInUseBytes).toBe(reserved);
    expect(dev.used).toBe(reserved);
  });

  it('takes the smallest cached block that fits, within maxWaste', () => {
    const dev = new FakeDevice();
    const al = new CachingAllocator(dev, { maxWaste: 2 });
    const big = al.alloc(8 * MiB), mid = al.alloc(3 * MiB), small = al.alloc(2 * MiB);
    al.release(big); al.release(mid); al.release(small);
    const b = al.alloc(2.5 * MiB);  // rounds to 3 MiB: the 3 MiB block
    expect(b.ptr).toBe(mid.ptr);
    expect(b.size).toBe(3 * MiB);
    const c = al.alloc(5 * MiB);  // 8 MiB > 2 × 5 MiB? no: 8 <= 10, reused
    expect(c.ptr).toBe(big.ptr);
    const d = al.alloc(9 * MiB);  // nothing cached fits: new allocation
    expect(dev.live.has(d.ptr)).toBe(true);
    expect(al.stats().deviceMallocs).toBe(4);
    const e = al.alloc(512);  // 2 MiB block is more than 2 × 512 B: not reused
    expect(e.ptr).not.toBe(small.ptr);
  });

  it('cap: empties the cache to make room, then fails with a clear error', () => {
    const dev = new FakeDevice();
    const al = new CachingAllocator(dev, { capBytes: 10 * MiB });
    const a = al.alloc(4 * MiB), b = al.alloc(4 * MiB);
    al.release(a);
    // 4 in use + 4 cached + 4 new > 10: the cache is flushed first, then it fits
    const c = al.alloc(5 * MiB);
    let st = al.stats();
    expect(st.cacheFlushes).toBe(1);
    expect(st.deviceFrees).toBe(1);
    expect(st.reservedBytes).toBe(9 * MiB);
    expect(dev.used).toBe(9 * MiB);
    expect(() => al.alloc(2 * MiB)).toThrow(CudaOutOfMemoryError);
    expect(() => al.alloc(2 * MiB)).toThrow(/pass the allocator cap of 10\.0 MiB \(9\.0 MiB in use\)/);
    al.release(b); al.release(c);
    st = al.stats();
    expect(st.inUseBytes).toBe(0);
    expect(st.peakReservedBytes).toBeLessThanOrEqual(10 * MiB);
    expect(() => new CachingAllocator(dev, { capBytes: 0 })).toThrow(/capBytes must be positive/);
  });

  it('device out of memory: frees the cache and retries once, then reports', () => {
    const dev = new FakeDevice(6 * MiB);
    const al = new CachingAllocator(dev);
    const a = al.alloc(3 * MiB);
    al.release(a);
    const b = al.alloc(2 * MiB);  // 3 MiB cached block reused (waste 1.5)
    expect(b.ptr).toBe(a.ptr);
    al.release(b);
    const c = al.alloc(5 * MiB);  // 3 cached + 5 > 6: device OOM, cache freed, retry succeeds
    expect(al.stats().cacheFlushes).toBe(1);
    expect(dev.live.size).toBe(1);
    const err = (() => { try { al.alloc(2 * MiB); } catch (e) { return e as Error; } })();
    expect(err).toBeInstanceOf(CudaOutOfMemoryError);
    expect(err!.message).toMatch(/out of device memory allocating 2\.0 MiB \(5\.0 MiB in use/);
    al.release(c);
    // errors other than out-of-memory pass through untouched
    const broken = new CachingAllocator({ malloc: () => { throw new Error('cudaErrorIllegalAddress'); }, free: () => {} });
    expect(() => broken.alloc(10)).toThrow('cudaErrorIllegalAddress');
  });

  it('rejects double release and foreign blocks; emptyCache frees every cached block', () => {
    const dev = new FakeDevice();
    const al = new CachingAllocator(dev);
    const a = al.alloc(100);
    al.release(a);
    expect(() => al.release(a)).toThrow(/released twice or not from this allocator/);
    expect(() => al.release({ ptr: 42, size: 512, requested: 1 })).toThrow(/released twice/);
    const blocks = [al.alloc(100), al.alloc(200_000), al.alloc(3 * MiB)];
    for (const b of blocks) al.release(b);
    al.emptyCache();
    const st = al.stats();
    expect(st.reservedBytes).toBe(0);
    expect(st.blocksCached).toBe(0);
    expect(dev.live.size).toBe(0);
    expect(st.deviceFrees).toBe(st.deviceMallocs);
  });

  it('emptyCache synchronises the device before it frees (queued kernels may still use a cached block)', () => {
    const dev = new FakeDevice();
    const al = new CachingAllocator(dev);
    const blocks = [al.alloc(100), al.alloc(3 * MiB)];
    for (const b of blocks) al.release(b);
    al.emptyCache();
    expect(dev.log).toEqual(['sync', `free ${blocks[0].ptr}`, `free ${blocks[1].ptr}`]);
    al.emptyCache();  // nothing cached: no synchronise
    expect(dev.log.length).toBe(3);
  });

  it('exact mode (CONVNET_CUDA_EXACT_ALLOC=1): exact sizes, nothing cached, each release synchronises and frees', () => {
    const dev = new FakeDevice();
    const al = new CachingAllocator(dev, { exact: true });
    const a = al.alloc(1000), b = al.alloc(3 * MiB + 4), z = al.alloc(0);
    expect([a.size, b.size, z.size]).toEqual([1000, 3 * MiB + 4, 1]);
    expect(dev.live.get(a.ptr)).toBe(1000);
    al.release(a);
    expect(dev.log).toEqual(['sync', `free ${a.ptr}`]);
    const c = al.alloc(1000);  // a new device allocation, not a.ptr from a cache
    expect(al.stats()).toMatchObject({ cacheHits: 0, cacheMisses: 4, blocksCached: 0, deviceMallocs: 4, deviceFrees: 1 });
    for (const x of [b, z, c]) al.release(x);
    expect(dev.live.size).toBe(0);
    expect(al.stats().reservedBytes).toBe(0);
    const prev = process.env.CONVNET_CUDA_EXACT_ALLOC;
    try {
      process.env.CONVNET_CUDA_EXACT_ALLOC = '1';
      expect(new CachingAllocator(dev).exact).toBe(true);
      process.env.CONVNET_CUDA_EXACT_ALLOC = '0';
      expect(new CachingAllocator(dev).exact).toBe(false);
    } finally {
      if (prev === undefined) delete process.env.CONVNET_CUDA_EXACT_ALLOC;
      else process.env.CONVNET_CUDA_EXACT_ALLOC = prev;
    }
  });
});
