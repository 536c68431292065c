/** Output-size rules and the finished geometry that ops hand to kernels (kernels never decide shapes). */

export type SizeRule = 'floor' | 'ceil';

/**
 * Output length of a sliding window: floor((in + 2·pad − k) / stride) + 1 (PyTorch's default), or with
 * ceil instead of floor (cuda-convnet's rule; a last window that would start in the padding is dropped,
 * as PyTorch's ceil_mode does).
 */
export function windowOutputSize(input: number, kernel: number, stride: number, pad: number, rule: SizeRule): number {
  const span = input + 2 * pad - kernel;
  if (span < 0) return 0;
  let out = (rule === 'ceil' ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  if (rule === 'ceil' && (out - 1) * stride >= input + pad) out--;
  return out;
}

/** Every number a conv2d kernel needs. x: [n, c, h, w]; w: [o, c/groups, kh, kw]; y: [n, o, oh, ow]. */
export interface Conv2dInfo {
  n: number; c: number; h: number; w: number;
  o: number; kh: number; kw: number;
  sh: number; sw: number; ph: number; pw: number;
  groups: number;
  oh: number; ow: number;
}

/** Every number a 2-D pooling kernel needs. x: [n, c, h, w]; y: [n, c, oh, ow]. */
export interface Pool2dInfo {
  n: number; c: number; h: number; w: number;
  kh: number; kw: number; sh: number; sw: number; ph: number; pw: number;
  oh: number; ow: number;
}

/** Window [start, end) of output index i for adaptive pooling (PyTorch's rule). */
export function adaptiveStart(i: number, out: number, input: number): number {
  return Math.floor((i * input) / out);
}
export function adaptiveEnd(i: number, out: number, input: number): number {
  return Math.ceil(((i + 1) * input) / out);
}
