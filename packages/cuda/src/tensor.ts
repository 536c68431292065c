/**
 * Device tensors. A CudaTensor is a @convnet/tensor Tensor (so ops, layers and shape checks accept it)
 * whose elements live in device memory. Its host `data` is a mirror kept coherent lazily:
 *   - kernels of the `cuda` backend read and write the device copy directly (no transfer);
 *   - reading `.data` (or get/toArray) downloads once and then treats the host copy as the newer one (the
 *     caller may write to it), so the next device use uploads it again.
 * So `.data` is a synchronisation point: use it for results and inputs, not inside a training loop.
 * The mirror is allocated zero-filled and untouched, which costs address space, not memory, until used; it is
 * not the tensor's contents until downloaded (a fresh block's device contents count, whatever they are).
 * Views (reshape, batch) share the device block and the mirror. dispose() / `using` returns the block to
 * the device's caching allocator once no view uses it.
 */
import { OpError, Tensor, fmtShape, isTensor, type Shape } from '@convnet/tensor';
import type { Block } from './allocator.js';
import type { CudaDevice } from './device.js';

type Newer = 'device' | 'host' | 'same';

class Storage {
  readonly device: CudaDevice;
  readonly block: Block;
  readonly mirror: Float32Array;
  /** A fresh block holds whatever its previous owner left: the device copy is the one that counts, not the zero mirror. */
  newer: Newer = 'device';
  refs = 1;
  /** The block may still have compute-stream work queued by a previous owner (until the first ordered async copy). */
  fresh = true;
  /** Receives asynchronous uploads: kernels using it record its last use (lastUse) for the copy stream to wait on. */
  asyncTarget = false;
  lastUse: number | null = null;

  constructor(device: CudaDevice, length: number) {
    this.device = device;
    this.block = device.allocator.alloc(Math.max(length, 1) * 4);
    try {
      this.mirror = new Float32Array(length);
    } catch (e) {
      // no host memory (or address space) for the mirror: the device block would leak with no tensor to free it
      device.allocator.release(this.block);
      throw new Error(`cuda: cannot allocate the host mirror of ${length} floats for a device tensor on ${device.name}: ${(e as Error).message}`);
    }
  }

  toDevice(): void {
    if (this.newer === 'host') {
      this.device.upload(this.block.ptr, this.mirror);
      this.newer = 'same';
    }
  }

  toHost(): void {
    if (this.newer === 'device') {
      this.device.download(this.mirror, this.block.ptr);
      this.newer = 'same';
    }
  }

  release(): void {
    if (--this.refs === 0) this.device.allocator.release(this.block);
  }
}

/** Blocks of tensors that were garbage-collected without dispose() go back to the allocator. */
const collected = new FinalizationRegistry<{ storage: Storage; released: { done: boolean } }>((h) => {
  if (!h.released.done) {
    h.released.done = true;
    h.storage.release();
  }
});

const count = (shape: Shape) => {
  if (!Array.isArray(shape)) throw new OpError('CudaTensor', 'shape', 'an array of dimensions', String(shape));
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new OpError('CudaTensor', 'shape', 'non-negative integer dimensions', fmtShape(shape));
    n *= d;
  }
  return n;
};

export class CudaTensor extends Tensor {
  readonly device: CudaDevice;
  readonly #storage: Storage;
  /** First element of this view in the storage. */
  readonly #offset: number;
  readonly #rel = { done: false };

  /** A new device tensor (contents undefined until written; use zeros() for zeros). */
  constructor(device: CudaDevice, shape: Shape, view?: { storage: Storage; offset: number }) {
    const size = count(shape);
    const storage = view ? view.storage : new Storage(device, size);
    const offset = view ? view.offset : 0;
    super(storage.mirror.subarray(offset, offset + size), shape);
    this.device = device;
    this.#storage = storage;
    this.#offset = offset;
    collected.register(this, { storage, released: this.#rel }, this.#rel);
  }

  static zeros(shape: Shape, device?: CudaDevice): CudaTensor {
    if (!device) throw new Error('CudaTensor.zeros: a device is required (CudaTensor.zeros(shape, device))');
    const t = new CudaTensor(device, shape);
    device.activate();
    device.addon.memsetZero(t.#storage.block.ptr, Math.max(t.size, 1) * 4, device.stream);
    return t;
  }

  /** A device copy of a host tensor (or of a Float32Array with a shape). */
  static fromHost(src: Tensor | Float32Array, device: CudaDevice, shape?: Shape): CudaTensor {
    const data = isTensor(src) ? src.data : src;
    const t = new CudaTensor(device, shape ?? (isTensor(src) ? src.shape : [data.length]));
    if (data.length !== t.size)
      throw new OpError('CudaTensor.fromHost', 'src', `${t.size} elements for shape ${fmtShape(t.shape)}`, `${data.length}`);
    device.upload(t.#storage.block.ptr, data);
    t.#storage.newer = 'device';
    return t;
  }

  /** Device address of the first element, with the device copy made current (uploads if the host copy is newer). */
  get ptr(): number {
    this.#live();
    this.#storage.toDevice();
    return this.#storage.block.ptr + this.#offset * 4;
  }

  /** Records that a kernel wrote this tensor on the device. */
  markDeviceWritten(): void {
    this.#storage.toDevice();  // a partial write (a view) keeps the rest of a newer host copy
    this.#storage.newer = 'device';
  }

  /**
   * The host mirror, downloaded if the device copy is newer; afterwards the host copy counts as newer. In strict
   * mode (CONVNET_CUDA_STRICT=1) this implicit copy throws: use toHost().
   */
  override get data(): Float32Array {
    const d = super.data;  // throws if disposed
    if (this.device.strict)
      throw new Error(`${this.toString()}: host access to device memory (.data, get, toArray) with CONVNET_CUDA_STRICT=1: on a GPU this is a hidden device→host copy; copy explicitly with toHost() / toHostTensor()`);
    this.#storage.toHost();
    this.#storage.newer = 'host';
    return d;
  }

  /** A plain host Tensor with a copy of the elements. */
  toHost(): Tensor {
    this.#live();
    this.#storage.toHost();
    return new Tensor(super.data.slice(), this.shape);
  }

  override reshape(shape: Shape): CudaTensor {
    this.#live();
    const s = [...shape];
    const free = s.indexOf(-1);
    if (free >= 0) {
      const rest = s.filter((_, i) => i !== free).reduce((a, b) => a * b, 1);
      if (rest === 0 || this.size % rest !== 0) throw new OpError('reshape', 'shape', `a shape with ${this.size} elements`, fmtShape(shape));
      s[free] = this.size / rest;
    }
    if (count(s) !== this.size)
      throw new OpError('reshape', 'shape', `a shape with ${this.size} elements (from ${fmtShape(this.shape)})`, fmtShape(shape));
    this.#storage.refs++;
    return new CudaTensor(this.device, s, { storage: this.#storage, offset: this.#offset });
  }

  override batch(start: number, end: number = this.shape[0]): CudaTensor {
    this.#live();
    if (this.rank === 0) throw new OpError('batch', 'tensor', 'rank >= 1', 'a scalar');
    const n = this.shape[0];
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > n || start > end)
      throw new OpError('batch', 'range', `0 <= start <= end <= ${n}`, `[${start}, ${end})`);
    this.#storage.refs++;
    return new CudaTensor(this.device, [end - start, ...this.shape.slice(1)], { storage: this.#storage, offset: this.#offset + start * this.strides[0] });
  }

  override clone(): CudaTensor {
    const t = new CudaTensor(this.device, this.shape);
    this.device.activate();
    this.device.addon.copy(t.#storage.block.ptr, this.ptr, this.size * 4, this.device.stream);
    t.markDeviceWritten();
    // the copy reads this block on the compute stream: an async upload into it must wait for the copy
    let e: number | null = null;
    this.noteUse(() => (e ??= this.device.recordUse()));
    return t;
  }

  override copyFrom(src: Tensor): this {
    if (src.size !== this.size) throw new OpError('copyFrom', 'src', `${this.size} elements`, `${src.size} (${fmtShape(src.shape)})`);
    const dst = this.ptr;
    if (src instanceof CudaTensor && src.device === this.device) {
      if (src === this || (src.#storage === this.#storage && src.#offset === this.#offset)) return this;
      const d = this.device, bytes = this.size * 4;
      d.activate();
      const overlap = src.#storage === this.#storage && src.#offset < this.#offset + this.size && this.#offset < src.#offset + src.size;
      if (overlap) {
        // overlapping ranges of one block: cudaMemcpy's result is undefined there, so go through a scratch block
        const tmp = d.allocator.alloc(bytes);
        try {
          d.addon.copy(tmp.ptr, src.ptr, bytes, d.stream);
          d.addon.copy(dst, tmp.ptr, bytes, d.stream);
        } finally {
          d.allocator.release(tmp);  // reused only by work queued later on the same stream
        }
      } else d.addon.copy(dst, src.ptr, bytes, d.stream);
    } else this.device.upload(dst, src instanceof CudaTensor ? src.toHost().data : src.data);  // another device: through the host
    this.markDeviceWritten();
    // both blocks were used on the compute stream: async uploads into either must wait for this copy
    let e: number | null = null;
    const use = () => (e ??= this.device.recordUse());
    this.noteUse(use);
    if (src instanceof CudaTensor && src.device === this.device) src.noteUse(use);
    return this;
  }

  /**
   * Uploads `src` on the device's copy stream, overlapping kernels already queued; kernels queued later wait
   * for it. `src` should come from device.allocPinned() (pageable memory makes the copy synchronous) and must
   * not change until the copy is done (device.synchronize()).
   */
  copyFromAsync(src: Float32Array): this {
    if (!(src instanceof Float32Array) || src.length !== this.size)
      throw new OpError('copyFromAsync', 'src', `a Float32Array of ${this.size} elements`, src instanceof Float32Array ? `${src.length} elements` : typeof src);
    this.#live();
    const st = this.#storage;
    const whole = this.#offset === 0 && this.size === st.mirror.length;
    let after: 'all' | number | null = st.fresh ? 'all' : st.lastUse;
    if (st.newer === 'host') {
      if (whole) st.newer = 'device';  // every element is replaced: the newer host copy is not uploaded at all
      else {
        // the rest of the block goes up first, on the compute stream; the async copy must land after it
        st.toDevice();
        after = 'all';
      }
    }
    this.device.uploadAsync(st.block.ptr + this.#offset * 4, src, after);
    st.fresh = false;
    st.asyncTarget = true;
    st.newer = 'device';
    return this;
  }

  /** Kernels call this after queuing work that uses the tensor: blocks that receive async uploads record it. */
  noteUse(event: () => number): void {
    const st = this.#storage;
    if (st.asyncTarget) st.lastUse = event();
  }

  override toString(): string {
    return `CudaTensor${fmtShape(this.shape)} on ${this.device.name}`;
  }

  override dispose(): void {
    if (!this.#rel.done) {
      this.#rel.done = true;
      collected.unregister(this.#rel);
      this.#storage.release();
    }
    super.dispose();
  }

  #live(): void {
    if (this.#rel.done) throw new Error(`${this.toString()} used after dispose()`);
  }
}
