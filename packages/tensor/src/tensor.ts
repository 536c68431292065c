import { OpError, fmtShape } from './errors.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function checkShape(op: string, arg: string, shape: Shape): void {
  if (!Array.isArray(shape)) throw new OpError(op, arg, 'an array of dimensions', String(shape));
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new OpError(op, arg, 'non-negative integer dimensions', fmtShape(shape));
  }
}

declare global {
  /**
   * `Symbol.dispose` (explicit resource management, `using`): declared here as @types/node and TypeScript's
   * esnext.disposable lib declare it, so a project whose `lib` lacks esnext.disposable and that has no @types/node
   * still compiles against Tensor's `[Symbol.dispose]()` (TS2550 otherwise). Node 20 defines the symbol.
   */
  interface SymbolConstructor {
    readonly dispose: unique symbol;
  }
}

/**
 * The brand every Tensor carries (contract C1). A user's install may hold two copies of @convnet/tensor (a nested
 * older version, or the ESM and the CJS build loaded in one process), each with its own `Tensor` class, so
 * `instanceof` cannot recognise a tensor; the brand is a registry symbol (`Symbol.for`), the same in every copy.
 * Its value is TENSOR_ABI: what a tensor must offer (shape, strides, size, rank, data, disposed and the methods
 * below); a copy that changes that bumps the number, and `isTensor` then refuses the other copy's tensors with
 * a message naming both numbers (see `describeValue`).
 */
export const TENSOR_BRAND: unique symbol = Symbol.for('convnet.tensor');
export const TENSOR_ABI = 1;

/** True for a tensor of any copy of @convnet/tensor with this tensor ABI (use instead of `instanceof Tensor`). */
export function isTensor(v: unknown): v is Tensor {
  return typeof v === 'object' && v !== null && (v as { [TENSOR_BRAND]?: unknown })[TENSOR_BRAND] === TENSOR_ABI;
}

/**
 * A dense, contiguous, row-major float32 tensor (NCHW activations, OIHW weights: PyTorch's layouts).
 *
 * Views (`reshape`, `batch`) share memory with their base. CPU tensors live on the JS heap, so
 * forgetting `dispose` never leaks; `dispose()` / `using` releases the buffer early and makes later
 * use an error. Backends with their own memory (CUDA) subclass this and free it in `dispose`.
 */
export class Tensor {
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly size: number;
  #data: Float32Array | null;

  constructor(data: Float32Array, shape: Shape) {
    checkShape('Tensor', 'shape', shape);
    if (!(data instanceof Float32Array))
      throw new OpError('Tensor', 'data', 'a Float32Array', describeValue(data));
    const size = sizeOf(shape);
    if (data.length !== size)
      throw new OpError('Tensor', 'data', `${size} elements for shape ${fmtShape(shape)}`, `${data.length}`);
    this.#data = data;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(stridesOf(shape));
    this.size = size;
  }

  /** See TENSOR_BRAND: read by `isTensor`, inherited by subclasses (CudaTensor). */
  get [TENSOR_BRAND](): number {
    return TENSOR_ABI;
  }

  /**
   * `x instanceof Tensor` recognises tensors of every copy of the package (by brand); subclasses such as
   * CudaTensor keep the ordinary prototype check.
   */
  static [Symbol.hasInstance](v: unknown): boolean {
    return this === Tensor ? isTensor(v) : Function.prototype[Symbol.hasInstance].call(this, v);
  }

  static zeros(shape: Shape): Tensor {
    checkShape('Tensor.zeros', 'shape', shape);
    return new Tensor(new Float32Array(sizeOf(shape)), shape);
  }

  static full(shape: Shape, value: number): Tensor {
    const t = Tensor.zeros(shape);
    t.data.fill(value);
    return t;
  }

  /** Copies `values` (any array-like of numbers) into a new tensor of the given shape. */
  static from(values: ArrayLike<number>, shape?: Shape): Tensor {
    const data = Float32Array.from(values);
    return new Tensor(data, shape ?? [data.length]);
  }

  get data(): Float32Array {
    if (this.#data === null) throw new Error(`Tensor ${fmtShape(this.shape)} used after dispose()`);
    return this.#data;
  }

  get rank(): number {
    return this.shape.length;
  }

  get disposed(): boolean {
    return this.#data === null;
  }

  /** A view with a new shape and the same elements; one dimension may be -1. */
  reshape(shape: Shape): Tensor {
    const s = [...shape];
    const free = s.indexOf(-1);
    if (free >= 0) {
      const rest = sizeOf(s.filter((_, i) => i !== free));
      if (rest === 0 || this.size % rest !== 0)
        throw new OpError('reshape', 'shape', `a shape with ${this.size} elements`, fmtShape(shape));
      s[free] = this.size / rest;
    }
    checkShape('reshape', 'shape', s);
    if (sizeOf(s) !== this.size)
      throw new OpError('reshape', 'shape', `a shape with ${this.size} elements (from ${fmtShape(this.shape)})`, fmtShape(shape));
    return new Tensor(this.data, s);
  }

  /** A view of rows [start, end) along the first axis (a batch slice): no copy. */
  batch(start: number, end: number = this.shape[0]): Tensor {
    if (this.rank === 0) throw new OpError('batch', 'tensor', 'rank >= 1', 'a scalar');
    const n = this.shape[0];
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > n || start > end)
      throw new OpError('batch', 'range', `0 <= start <= end <= ${n}`, `[${start}, ${end})`);
    const inner = this.strides[0];
    return new Tensor(this.data.subarray(start * inner, end * inner), [end - start, ...this.shape.slice(1)]);
  }

  /** A deep copy. */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  /** Copies another tensor's elements into this one (same number of elements). */
  copyFrom(src: Tensor): this {
    if (src.size !== this.size)
      throw new OpError('copyFrom', 'src', `${this.size} elements`, `${src.size} (${fmtShape(src.shape)})`);
    this.data.set(src.data);
    return this;
  }

  /** Element at a multi-index. */
  get(...index: number[]): number {
    if (index.length !== this.rank)
      throw new OpError('get', 'index', `${this.rank} indices`, `${index.length}`);
    let off = 0;
    for (let i = 0; i < index.length; i++) {
      const v = index[i];
      if (!Number.isInteger(v) || v < 0 || v >= this.shape[i])
        throw new OpError('get', `index[${i}]`, `an integer in [0, ${this.shape[i]})`, String(v));
      off += v * this.strides[i];
    }
    return this.data[off];
  }

  /** A plain JS array (for small tensors, printing and tests). */
  toArray(): number[] {
    return Array.from(this.data);
  }

  toString(): string {
    return `Tensor${fmtShape(this.shape)}`;
  }

  dispose(): void {
    this.#data = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (isTensor(v)) return `Tensor${fmtShape(v.shape)}`;
  const abi = typeof v === 'object' ? (v as { [TENSOR_BRAND]?: unknown })[TENSOR_BRAND] : undefined;
  if (abi !== undefined)
    return `a Tensor of tensor ABI ${String(abi)} from another copy of @convnet/tensor (this copy has ABI ${TENSOR_ABI}; install one version: npm ls @convnet/tensor)`;
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  if (Array.isArray(v)) return `Array(${v.length})`;
  return typeof v;
}
