// Bad arguments straight to the addon throw JS errors naming the kernel and the argument or attribute; nothing
// crashes, and no geometry makes native code read or write outside the buffers it was given. The addon's
// functions are the native ABI (native/include/convnet/abi.h): kernel(attrs, ...inputs, ...outputs).
import { describe, expect, it } from 'vitest';
import { native } from '../src/index.js';

const f32 = (n: number) => new Float32Array(n);
type Loose = (...a: unknown[]) => void;
const conv = (v: number[]) => {
  const [n, c, h, w, o, kh, kw, sh, sw, ph, pw, groups, oh, ow] = v;
  return { n, c, h, w, o, kh, kw, sh, sw, ph, pw, groups, oh, ow };
};
const pool = (v: number[]) => {
  const [n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow] = v;
  return { n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow };
};
const lrnAttrs = (n: number, c: number, plane: number) => ({ n, c, plane, size: 5, alpha: 1e-4, beta: 0.75, k: 2, alphaMode: 'divide-by-size' as const });
const sgd = { lr: 0.1, momentum: 0.9, weightDecay: 0, dampening: 0, nesterov: false, rule: 'pytorch' as const, firstStep: false };

describe('native argument checks', () => {
  const n = native();
  const g = conv([1, 3, 8, 8, 4, 3, 3, 1, 1, 0, 0, 1, 6, 6]);

  it('exports one function per kernel, named as the kernel', async () => {
    const { KERNEL_NAMES } = await import('../src/index.js');
    for (const k of KERNEL_NAMES) expect(typeof (n as unknown as Record<string, unknown>)[k], k).toBe('function');
  });

  it('rejects too-short buffers for the sizes it is told', () => {
    expect(() => n.conv2d(g, f32(10), f32(108), null, f32(144)))
      .toThrow(/native.conv2d: argument 1: Float32Array too short: need 192 elements, got 10/);
    expect(() => n.conv2d(g, f32(192), f32(108), f32(3), f32(144))).toThrow(/argument 3: Float32Array too short/);
    expect(() => n.conv2dBackwardInput(g, f32(144), f32(108), f32(191))).toThrow(/argument 3: Float32Array too short/);
    expect(() => n.conv2dBackwardWeight(g, f32(192), f32(143), f32(108))).toThrow(/argument 2: Float32Array too short/);
    expect(() => n.maxPool2dBackward(pool([1, 2, 5, 5, 3, 3, 2, 2, 0, 0, 2, 2]), f32(50), f32(8), f32(49)))
      .toThrow(/native.maxPool2dBackward: argument 3: Float32Array too short/);
    expect(() => n.lrnBackward(lrnAttrs(2, 3, 4), f32(24), f32(24), f32(24), f32(24), f32(23)))
      .toThrow(/native.lrnBackward: argument 5: Float32Array too short/);
    expect(() => n.dropout({ len: 10, seed: 1, stream: 0, offset: 0, keepThreshold: 1 << 23, scale: 2 }, f32(10), f32(10), f32(9)))
      .toThrow(/native.dropout: argument 3: Float32Array too short/);
    expect(() => n.sgdUpdate({ ...sgd, len: 5 }, f32(5), f32(4), f32(5))).toThrow(/native.sgdUpdate: argument 2/);
    expect(() => n.softmaxCrossEntropy({ n: 2, classes: 3, topk: 1 }, f32(6), Int32Array.from([0]), f32(1), f32(6), f32(2)))
      .toThrow(/argument 2: Int32Array too short/);
    expect(() => n.biasAdd({ n: 2, c: 3, inner: 4 }, f32(24), f32(2), f32(24))).toThrow(/native.biasAdd: argument 2: Float32Array too short/);
    expect(() => n.gemm({ transA: false, transB: false, alpha: 1, beta: 0, M: 4, N: 4, K: 4 }, f32(16), f32(16), f32(15)))
      .toThrow(/native.gemm: argument 3: Float32Array too short/);
    expect(() => n.sgemm(false, false, 4, 4, 4, 1, f32(16), 4, f32(16), 4, 0, f32(15), 4))
      .toThrow(/native.sgemm: argument 11: Float32Array too short/);
  });

  it('rejects wrong types, missing or unknown attribute values and inconsistent geometry, by name', () => {
    expect(() => n.conv2d(g, new Float64Array(192) as unknown as Float32Array, f32(108), null, f32(144)))
      .toThrow(/argument 1: expected a Float32Array/);
    expect(() => n.conv2d(g, new Int32Array(192) as unknown as Float32Array, f32(108), null, f32(144)))
      .toThrow(/argument 1: expected a Float32Array/);
    expect(() => n.conv2d({ ...g, groups: 2 }, f32(192), f32(108), null, f32(144))).toThrow(/native.conv2d: attribute 'groups': must divide c and o/);
    // an output size that no size rule gives (the kernel would otherwise trust it)
    expect(() => n.conv2d({ ...g, oh: 7 }, f32(192), f32(108), null, f32(168)))
      .toThrow(/oh, ow do not follow from h, w, kernel, stride and padding/);
    expect(() => n.maxPool2d(pool([1, 1, 4, 4, 3, 3, 2, 2, 0, 0, 9, 9]), f32(16), f32(81))).toThrow(/oh, ow do not follow/);
    expect(() => n.maxPool2d(pool([1, 1, 4, 4, 3, 3, 2, 2, 3, 3, 4, 4]), f32(16), f32(16)))
      .toThrow(/native.maxPool2d: attribute 'ph': padding must be at most half the window/);
    expect(() => n.activation({ fn: 'gelu' as never, len: 4 }, f32(4), f32(4)))
      .toThrow("native.activation: attribute 'fn': expected one of 'relu', 'logistic', 'tanh', 'abs', 'softplus'");
    expect(() => n.activation({ fn: 'relu', len: 2.5 }, f32(4), f32(4))).toThrow(/attribute 'len': expected an integer/);
    expect(() => n.activation({ fn: 'relu', len: Number.NaN }, f32(4), f32(4))).toThrow(/attribute 'len': expected an integer/);
    expect(() => n.lrn({ ...lrnAttrs(1, 3, 4), alphaMode: 'torch' as never }, f32(12), f32(12), f32(12)))
      .toThrow("native.lrn: attribute 'alphaMode': expected one of 'divide-by-size', 'paper'");
    expect(() => n.softmaxCrossEntropy({ n: 2, classes: 3, topk: 1 }, f32(6), Int32Array.from([0, 3]), f32(1), f32(6), f32(2)))
      .toThrow(/label 3 at row 1 is outside \[0, 3\)/);
    expect(() => n.softmaxCrossEntropy({ n: 1, classes: 3, topk: 1 }, f32(3), Int32Array.from([-1]), f32(1), f32(3), f32(2))).toThrow(/label -1/);
    expect(() => (n.scale as unknown as Loose)({ len: 4, alpha: 'x' }, f32(4), f32(4))).toThrow(/native.scale: attribute 'alpha': expected a number/);
    expect(() => (n.sgdUpdate as unknown as Loose)({ ...sgd, len: 1, nesterov: 1 }, f32(1), f32(1), f32(1)))
      .toThrow(/attribute 'nesterov': expected a boolean/);
    expect(() => (n.sgdUpdate as unknown as Loose)({ ...sgd, len: 1, rule: 'adam' }, f32(1), f32(1), f32(1)))
      .toThrow(/attribute 'rule': expected one of 'pytorch', 'paper'/);
    expect(() => (n.conv2d as unknown as Loose)('geometry', f32(1), f32(1), null, f32(1))).toThrow(/argument 0: expected the attributes object/);
    expect(() => (n.conv2d as unknown as Loose)([1, 2, 3], f32(1), f32(1), null, f32(1))).toThrow(/argument 0: expected the attributes object/);
    const { ow: _ow, ...noOw } = g;
    expect(() => (n.conv2d as unknown as Loose)(noOw, f32(192), f32(108), null, f32(144))).toThrow(/attribute 'ow': expected a number/);
    expect(() => n.conv2d({ ...g, ow: -6 }, f32(192), f32(108), null, f32(144))).toThrow(/attribute 'ow'/);
    expect(() => (n.lrn as unknown as Loose)()).toThrow(/native.lrn: argument 0: expected the attributes object/);
    expect(() => (n.maxPool2d as unknown as Loose)(pool([1, 1, 4, 4, 2, 2, 2, 2, 0, 0, 2, 2]), f32(16))).toThrow(/argument 2: expected a Float32Array/);
  });

  it('rejects sizes whose element counts overflow (a wrapped product would pass the length checks)', () => {
    const big = 65536; // 65536^4 = 2^64
    expect(() => n.conv2d(conv([big, big, big, big, 1, 1, 1, 1, 1, 0, 0, 1, big, big]), f32(1), f32(1), null, f32(1)))
      .toThrow(/sizes too large/);
    expect(() => n.maxPool2d(pool([big, big, big, big, 1, 1, 1, 1, 0, 0, big, big]), f32(1), f32(1))).toThrow(/sizes too large/);
    expect(() => n.lrn(lrnAttrs(2 ** 22, 2 ** 22, 2 ** 22), f32(1), f32(1), f32(1))).toThrow(/sizes too large/);
    expect(() => n.biasAdd({ n: 2 ** 30, c: 2 ** 30, inner: 2 ** 30 }, f32(1), f32(1), f32(1))).toThrow(/sizes too large/);
    expect(() => n.softmax({ n: 2 ** 30, classes: 2 ** 30 }, f32(1), f32(1))).toThrow(/sizes too large/);
    expect(() => n.conv2d(conv([1, 1, 2 ** 31, 1, 1, 1, 1, 1, 1, 0, 0, 1, 2 ** 31, 1]), f32(1), f32(1), null, f32(1)))
      .toThrow(/attribute 'h': expected an integer in \[0, 2147483647\]/);
  });

  it('empty tensors: nothing to compute, nothing allocated for the sizes of the other dimensions', () => {
    const huge = 2 ** 30;
    // no images: the geometry says 2^30 x 2^30 planes, but there is nothing to read or write
    n.maxPool2d(pool([0, 1, huge, huge, 3, 3, 2, 2, 0, 0, huge / 2 - 1, huge / 2 - 1]), f32(0), f32(0));
    n.maxPool2dBackward(pool([0, 1, huge, huge, 3, 3, 2, 2, 0, 0, huge / 2 - 1, huge / 2 - 1]), f32(0), f32(0), f32(0));
    const wide = 2 ** 20;
    n.conv2d(conv([0, 3, wide, wide, 4, 3, 3, 1, 1, 0, 0, 1, wide - 2, wide - 2]), f32(0), f32(108), null, f32(0));
    n.lrn(lrnAttrs(0, 96, huge), f32(0), f32(0), f32(0));
    // no output channels: dx and dw are zero (no output, no gradient)
    const dx = f32(192).fill(Number.NaN);
    n.conv2dBackwardInput(conv([1, 3, 8, 8, 0, 3, 3, 1, 1, 0, 0, 1, 6, 6]), f32(0), f32(0), dx);
    expect(dx.every((v) => v === 0)).toBe(true);
    const dw = f32(108).fill(Number.NaN);
    n.conv2dBackwardWeight(conv([0, 3, 8, 8, 4, 3, 3, 1, 1, 0, 0, 1, 6, 6]), f32(0), f32(0), dw);
    expect(dw.every((v) => v === 0)).toBe(true);
    const out = f32(2).fill(7);
    n.sumAndSquares({ len: 0 }, f32(0), out);
    expect(Array.from(out)).toEqual([0, 0]);
  });
});
