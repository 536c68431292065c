// The stream and memory-ordering rules of the CUDA review, on the emulator. Its copies run synchronously, so a
// wrong order cannot corrupt data here; instead its streams and events are distinct tokens and these tests record
// the calls the TypeScript side makes (which stream each copy goes on, which event each stream waits for) and
// check the protocol a GPU needs. Where the emulator can show the bug in the data (stale blocks), they check that.
import { afterEach, describe, expect, it } from 'vitest';
import { Tensor, activation, conv2dBackwardInput, listBackends, registerBackend } from '@convnet/tensor';
import { CudaDevice, CudaTensor, createCudaBackend } from '../src/index.js';

if (!listBackends().includes('cuda-host')) registerBackend(createCudaBackend({ emulator: true }));
const dev = CudaDevice.get(0, { emulator: true });
const backend = 'cuda-host';
type Call = [string, ...unknown[]];
let log: Call[] = [];
const restore: (() => void)[] = [];

/** Records the addon's stream/event/copy calls from now on. */
function spy(): void {
  log = [];
  const a = dev.addon as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const k of ['upload', 'download', 'copy', 'eventRecord', 'streamWaitEvent', 'eventSynchronize']) {
    const orig = a[k];
    a[k] = (...args: unknown[]) => {
      log.push([k, ...args.map((x) => (ArrayBuffer.isView(x) ? x : x))]);
      return orig(...args);
    };
    restore.push(() => { a[k] = orig; });
  }
}
afterEach(() => {
  while (restore.length) restore.pop()!();
});
const S = () => dev.stream, C = () => dev.copyStream;
const idx = (pred: (c: Call) => boolean, from = 0) => log.findIndex((c, i) => i >= from && pred(c));

describe('copyFromAsync ordering (recordStream rule)', () => {
  it('a fresh block: the copy stream waits for all queued compute work, then the compute stream waits for the copy', () => {
    using t = CudaTensor.zeros([2, 3], dev);
    const src = dev.allocPinned(6);
    src.set([1, -2, 3, -4, 5, -6]);
    spy();
    t.copyFromAsync(src);
    const rec = idx((c) => c[0] === 'eventRecord' && c[2] === S());
    const wait = idx((c) => c[0] === 'streamWaitEvent' && c[1] === C() && c[2] === log[rec]?.[1]);
    const up = idx((c) => c[0] === 'upload' && c[3] === C());
    const done = idx((c) => c[0] === 'eventRecord' && c[2] === C(), up);
    const computeWaits = idx((c) => c[0] === 'streamWaitEvent' && c[1] === S() && c[2] === log[done]?.[1], done);
    expect([rec, wait, up, done, computeWaits].every((i) => i >= 0)).toBe(true);
    expect(rec < wait && wait < up && up < done && done < computeWaits).toBe(true);
    expect(log.filter((c) => c[0] === 'upload' && c[3] === S())).toHaveLength(0);  // nothing stale on the compute stream
    dev.synchronize();
    expect(Array.from(t.data)).toEqual([1, -2, 3, -4, 5, -6]);
  });

  it('a block used by a kernel: the next upload into it waits for that use (its last-use event), not for everything', () => {
    using t = CudaTensor.zeros([4], dev);
    using y = CudaTensor.zeros([4], dev);
    const a = dev.allocPinned(4), b = dev.allocPinned(4);
    a.set([1, -1, 2, -2]);
    b.set([-3, 3, -4, 4]);
    t.copyFromAsync(a);
    spy();
    activation(t, 'relu', { backend, out: y });  // reads t on the compute stream
    const use = idx((c) => c[0] === 'eventRecord' && c[2] === S());
    expect(use).toBeGreaterThanOrEqual(0);
    const lastUse = log[use][1];
    t.copyFromAsync(b);
    const wait = idx((c) => c[0] === 'streamWaitEvent' && c[1] === C(), use + 1);
    const up = idx((c) => c[0] === 'upload' && c[3] === C(), use + 1);
    expect(log[wait][2]).toBe(lastUse);
    expect(wait).toBeLessThan(up);
    // no fresh "all queued work" event was recorded between the use and the copy
    expect(log.slice(use + 1, up).filter((c) => c[0] === 'eventRecord')).toHaveLength(0);
    activation(t, 'relu', { backend, out: y });
    expect(Array.from(y.toHost().data)).toEqual([0, 3, 0, 4]);
  });

  it('a newer host mirror under a view goes up on the compute stream first; the async copy waits for it', () => {
    using base = CudaTensor.zeros([8], dev);
    base.data.set([9, 9, 9, 9, 9, 9, 9, 9]);  // the host copy is now the newer one
    const view = base.batch(2, 5);
    const src = dev.allocPinned(3);
    src.set([1, 2, 3]);
    spy();
    view.copyFromAsync(src);
    const mirror = idx((c) => c[0] === 'upload' && c[3] === S());
    const rec = idx((c) => c[0] === 'eventRecord' && c[2] === S(), mirror);
    const wait = idx((c) => c[0] === 'streamWaitEvent' && c[1] === C() && c[2] === log[rec]?.[1], rec);
    const up = idx((c) => c[0] === 'upload' && c[3] === C());
    expect([mirror, rec, wait, up].every((i) => i >= 0)).toBe(true);
    expect(mirror < rec && rec < wait && wait < up).toBe(true);
    dev.synchronize();
    expect(Array.from(base.toHost().data)).toEqual([9, 9, 1, 2, 3, 9, 9, 9]);
    view.dispose();
  });

  it('a whole-tensor async copy drops a newer host mirror instead of uploading it', () => {
    using t = CudaTensor.zeros([3], dev);
    t.data.fill(5);
    const src = dev.allocPinned(3);
    src.set([7, 8, 9]);
    spy();
    t.copyFromAsync(src);
    expect(log.filter((c) => c[0] === 'upload')).toHaveLength(1);
    expect(Array.from(t.toHost().data)).toEqual([7, 8, 9]);
  });

  it('each upload has its own completion event; waitForUpload(src) waits for exactly that one and releases the source', () => {
    using t = CudaTensor.zeros([2], dev);
    using u = CudaTensor.zeros([2], dev);
    const a = dev.allocPinned(2), b = dev.allocPinned(2);
    spy();
    t.copyFromAsync(a);
    u.copyFromAsync(b);
    const doneA = log[idx((c) => c[0] === 'eventRecord' && c[2] === C())][1];
    const doneB = log[idx((c) => c[0] === 'eventRecord' && c[2] === C(), idx((c) => c[0] === 'upload' && c[1] !== undefined && c[2] === b))][1];
    expect(doneA).not.toBe(doneB);
    dev.waitForUpload(a);
    expect(log.filter((c) => c[0] === 'eventSynchronize').map((c) => c[1])).toEqual([doneA]);
    dev.waitForUpload(a);  // already known done: no second wait
    expect(log.filter((c) => c[0] === 'eventSynchronize')).toHaveLength(1);
    // uploading from the same memory again first waits for the previous upload from it
    u.copyFromAsync(b);
    const sync = idx((c) => c[0] === 'eventSynchronize' && c[1] === doneB);
    const second = log.map((c, i) => [c, i] as const).filter(([c]) => c[0] === 'upload' && c[2] === b).at(-1)![1];
    expect(sync).toBeGreaterThanOrEqual(0);
    expect(sync).toBeLessThan(second);
  });
});

describe('device memory contents', () => {
  it('a fresh CudaTensor on a reused block reports the block, not a zero mirror', () => {
    const blk = dev.allocator.alloc(16 * 4);
    dev.upload(blk.ptr, Float32Array.from({ length: 16 }, () => 7));
    dev.allocator.release(blk);
    using t = new CudaTensor(dev, [16]);  // contents undefined: whatever the block holds
    using y = CudaTensor.zeros([16], dev);
    activation(t, 'relu', { backend, out: y });
    expect(Array.from(t.data)).toEqual(Array.from(y.toHost().data));  // the host view agrees with what kernels see
  });

  it('overlapping device-to-device copies (views of one block) go through scratch and copy as if non-overlapping', () => {
    using base = CudaTensor.fromHost(Tensor.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), dev);
    const a = base.batch(0, 6), b = base.batch(3, 9);
    spy();
    b.copyFrom(a);
    const copies = log.filter((c) => c[0] === 'copy');
    expect(copies).toHaveLength(2);
    for (const [, dst, src, bytes] of copies as [string, number, number, number][])
      expect(dst + bytes <= src || src + bytes <= dst).toBe(true);  // no single copy overlaps itself
    expect(Array.from(base.toHost().data)).toEqual([0, 1, 2, 0, 1, 2, 3, 4, 5, 9]);
    a.dispose();
    b.dispose();
  });

  it('conv2dBackwardInput with zero output channels and padding writes zeros (not an unwritten workspace)', () => {
    // leave NaN in every cached block a small workspace could get
    dev.allocator.emptyCache();
    const blocks = [512, 1024, 2048, 4096, 8192, 16384].map((bytes) => {
      const b = dev.allocator.alloc(bytes);
      dev.upload(b.ptr, new Float32Array(bytes / 4).fill(NaN));
      return b;
    });
    for (const b of blocks) dev.allocator.release(b);
    const dy = CudaTensor.zeros([2, 0, 5, 5], dev);
    const w = CudaTensor.zeros([0, 3, 3, 3], dev);
    const dx = CudaTensor.fromHost(Tensor.full([2, 3, 5, 5], NaN), dev);
    conv2dBackwardInput(dy, w, [2, 3, 5, 5], { padding: 1, backend, out: dx });
    expect(dx.toHost().data.every((v) => v === 0)).toBe(true);
    dy.dispose(); w.dispose(); dx.dispose();
  });
});

describe('last use recorded by every compute-stream use (an async upload into the block waits for it)', () => {
  /** Index of the copy stream's wait for the `use`-th compute-stream event recorded from `from` on. */
  const waitsFor = (from: number) => {
    const up = idx((c) => c[0] === 'upload' && c[3] === C(), from);
    const wait = log.slice(from, up).reverse().find((c) => c[0] === 'streamWaitEvent' && c[1] === C());
    return { up, waited: wait?.[2] };
  };
  const lastComputeEvent = (before: number) =>
    log.slice(0, before).reverse().find((c) => c[0] === 'eventRecord' && c[2] === S())?.[1];

  it('copyFrom records the last use of both its source and its destination', () => {
    using t = CudaTensor.zeros([4], dev);
    using y = CudaTensor.zeros([4], dev);
    const a = dev.allocPinned(4), b = dev.allocPinned(4);
    a.set([1, 2, 3, 4]);
    t.copyFromAsync(a);
    spy();
    y.copyFrom(t);  // reads t's block on the compute stream
    const copy = idx((c) => c[0] === 'copy');
    t.copyFromAsync(b);
    const { up, waited } = waitsFor(copy);
    expect(idx((c) => c[0] === 'eventRecord' && c[2] === S(), copy)).toBeGreaterThan(copy);  // recorded after the copy
    expect(waited).toBe(lastComputeEvent(up));
    expect(Array.from(y.toHost().data)).toEqual([1, 2, 3, 4]);
    // the destination side: t written by a device copy, then an async upload into t
    spy();
    t.copyFrom(y);
    const copy2 = idx((c) => c[0] === 'copy');
    t.copyFromAsync(a);
    const w2 = waitsFor(copy2);
    expect(idx((c) => c[0] === 'eventRecord' && c[2] === S(), copy2)).toBeGreaterThan(copy2);
    expect(w2.waited).toBe(lastComputeEvent(w2.up));
  });

  it('clone records the last use of its source', () => {
    using t = CudaTensor.zeros([3], dev);
    const a = dev.allocPinned(3), b = dev.allocPinned(3);
    a.set([5, 6, 7]);
    t.copyFromAsync(a);
    spy();
    using c = t.clone();
    const copy = idx((x) => x[0] === 'copy');
    t.copyFromAsync(b);
    const { up, waited } = waitsFor(copy);
    expect(idx((x) => x[0] === 'eventRecord' && x[2] === S(), copy)).toBeGreaterThan(copy);
    expect(waited).toBe(lastComputeEvent(up));
    expect(Array.from(c.toHost().data)).toEqual([5, 6, 7]);
  });

  it('a Call that throws after queuing a kernel still records the last use of its tensors', () => {
    const be = createCudaBackend({ emulator: true });
    using t = CudaTensor.zeros([4], dev);
    using y = CudaTensor.zeros([4], dev);
    const a = dev.allocPinned(4), b = dev.allocPinned(4);
    a.set([1, -1, 1, -1]);
    t.copyFromAsync(a);
    spy();
    expect(() => be.run((c) => {
      dev.addon.copy(c.out(y), c.in(t), 16, dev.stream);  // a kernel queued on t and y ...
      throw new Error('a later launch of the call failed');  // ... then the call fails
    })).toThrow('a later launch of the call failed');
    const copy = idx((c) => c[0] === 'copy');
    t.copyFromAsync(b);
    const { up, waited } = waitsFor(copy);
    expect(idx((c) => c[0] === 'eventRecord' && c[2] === S(), copy)).toBeGreaterThan(copy);
    expect(waited).toBe(lastComputeEvent(up));
    expect(Array.from(y.toHost().data)).toEqual([1, -1, 1, -1]);  // the output counts as written on the device
  });
});

describe('device memory when the host mirror cannot be allocated', () => {
  it('the device block goes back to the allocator and the error says what failed', () => {
    const Real = globalThis.Float32Array;
    const before = dev.allocator.stats();
    class NoMemory extends Real {
      constructor(...args: unknown[]) {
        if (args[0] === 12345) throw new RangeError('Array buffer allocation failed');
        super(...(args as [number]));
      }
    }
    globalThis.Float32Array = NoMemory as unknown as Float32ArrayConstructor;
    try {
      expect(() => new CudaTensor(dev, [12345])).toThrow(/cannot allocate the host mirror of 12345 floats.*Array buffer allocation failed/);
    } finally {
      globalThis.Float32Array = Real;
    }
    const after = dev.allocator.stats();
    expect(after.inUseBytes).toBe(before.inUseBytes);
    expect(after.blocksInUse).toBe(before.blocksInUse);
  });
});
