import { OpError, fmtShape } from './errors.js';
import { alloc } from './memory.js';
import { Tensor, describeValue, isTensor, type Shape } from './tensor.js';

export function expectTensor(op: string, arg: string, v: unknown, rank?: number): Tensor {
  if (!isTensor(v)) {
    const got = ArrayBuffer.isView(v) && !(v instanceof Float32Array) ? `${describeValue(v)} (only float32 is supported)` : describeValue(v);
    throw new OpError(op, arg, rank === undefined ? 'a float32 Tensor' : `a rank-${rank} float32 Tensor`, got);
  }
  if (v.disposed) throw new OpError(op, arg, 'a live Tensor', 'a disposed Tensor');
  if (rank !== undefined && v.rank !== rank)
    throw new OpError(op, arg, `a rank-${rank} tensor${rank === 4 ? ' [n, c, h, w]' : ''}`, `shape ${fmtShape(v.shape)}`);
  return v;
}

export function expectShape(op: string, arg: string, t: Tensor, shape: Shape): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
    throw new OpError(op, arg, `shape ${fmtShape(shape)}`, `shape ${fmtShape(t.shape)}`);
}

export function expectInt(op: string, arg: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new OpError(op, arg, `an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}]`, String(v));
  return v;
}

export function expectNumber(op: string, arg: string, v: unknown, check?: (x: number) => boolean, what = 'a finite number'): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (check && !check(v))) throw new OpError(op, arg, what, String(v));
  return v;
}

/** A number or [a, b] pair of non-negative/positive integers. */
export function expectPair(op: string, arg: string, v: unknown, min: number): [number, number] {
  const p = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2)
    throw new OpError(op, arg, 'an integer or a pair [h, w]', describeValue(v));
  return [expectInt(op, `${arg}[0]`, p[0], min), expectInt(op, `${arg}[1]`, p[1], min)];
}

export function expectOneOf<T extends string>(op: string, arg: string, v: unknown, options: readonly T[]): T {
  if (typeof v !== 'string' || !options.includes(v as T))
    throw new OpError(op, arg, `one of ${options.map((o) => `'${o}'`).join(', ')}`, String(v));
  return v as T;
}

/** Validates a caller-supplied output buffer, or allocates one in `backend`'s memory (memory.ts). */
export function outTensor(op: string, arg: string, out: Tensor | undefined, shape: Shape, backend?: string): Tensor {
  if (out === undefined) return alloc(shape, backend);
  expectTensor(op, arg, out);
  expectShape(op, arg, out, shape);
  return out;
}
