// Bad arguments straight to the addon throw JS errors naming the function and argument; nothing crashes,
// and no geometry makes native code read or write outside the buffers it was given.
import { describe, expect, it } from 'vitest';
import { native } from '../src/index.js';

const f32 = (n: number) => new Float32Array(n);
type Loose = (...a: unknown[]) => void;

describe('native argument checks', () => {
  const n = native();
  const g = [1, 3, 8, 8, 4, 3, 3, 1, 1, 0, 0, 1, 6, 6];

  it('rejects too-short buffers for the geometry it is told', () => {
    expect(() => n.conv2dForward(g, f32(10), f32(108), null, f32(144)))
      .toThrow(/native.conv2dForward: argument 1: Float32Array too short: need 192 elements, got 10/);
    expect(() => n.conv2dForward(g, f32(192), f32(108), f32(3), f32(144))).toThrow(/argument 3: Float32Array too short/);
    expect(() => n.conv2dBackwardInput(g, f32(144), f32(108), f32(191))).toThrow(/argument 3: Float32Array too short/);
    expect(() => n.conv2dBackwardWeight(g, f32(192), f32(143), f32(108))).toThrow(/argument 2: Float32Array too short/);
    expect(() => n.pool(1, [1, 2, 5, 5, 3, 3, 2, 2, 0, 0, 2, 2], false, f32(50), f32(8), f32(49)))
      .toThrow(/argument 5: Float32Array too short/);
    expect(() => n.lrnBackward(2, 3, 4, 5, 1e-4, 0.75, 2, f32(24), f32(24), f32(24), f32(24), f32(23)))
      .toThrow(/native.lrnBackward: argument 11: Float32Array too short/);
    expect(() => n.dropout(10, 1, 0, 0, 1 << 23, 2, f32(10), f32(10), f32(9))).toThrow(/argument 8: Float32Array too short/);
    expect(() => n.sgdUpdate(5, 0.1, 0.9, 0, 0, false, false, false, f32(5), f32(4), f32(5))).toThrow(/argument 9/);
    expect(() => n.softmaxCrossEntropy(2, 3, 1, f32(6), Int32Array.from([0]), f32(6), f32(3))).toThrow(/argument 4: Int32Array too short/);
    expect(() => n.biasAdd(2, 3, 4, f32(24), f32(2), f32(24))).toThrow(/argument 4: Float32Array too short/);
    expect(() => n.sgemm(false, false, 4, 4, 4, 1, f32(16), 4, f32(16), 4, 0, f32(15), 4))
      .toThrow(/argument 11: Float32Array too short/);
  });

  it('rejects wrong types and inconsistent geometry', () => {
    expect(() => n.conv2dForward(g, new Float64Array(192) as unknown as Float32Array, f32(108), null, f32(144)))
      .toThrow(/argument 1: expected a Float32Array/);
    expect(() => n.conv2dForward(g, new Int32Array(192) as unknown as Float32Array, f32(108), null, f32(144)))
      .toThrow(/argument 1: expected a Float32Array/);
    expect(() => n.conv2dForward([1, 3, 8, 8, 4, 3, 3, 1, 1, 0, 0, 2, 6, 6], f32(192), f32(108), null, f32(144)))
      .toThrow(/groups must divide c and o/);
    // an output size that no size rule gives (the kernel would otherwise trust it)
    expect(() => n.conv2dForward([1, 3, 8, 8, 4, 3, 3, 1, 1, 0, 0, 1, 7, 6], f32(192), f32(108), null, f32(168)))
      .toThrow(/oh, ow do not follow from h, w, kernel, stride and padding/);
    expect(() => n.pool(0, [1, 1, 4, 4, 3, 3, 2, 2, 0, 0, 9, 9], false, f32(16), f32(81)))
      .toThrow(/oh, ow do not follow/);
    expect(() => n.pool(0, [1, 1, 4, 4, 3, 3, 2, 2, 3, 3, 4, 4], false, f32(16), f32(16)))
      .toThrow(/padding must be smaller than the window/);
    expect(() => n.activation(7, 4, f32(4), f32(4))).toThrow(/argument 0: expected an integer in \[0, 4\]/);
    expect(() => n.activation(-1, 4, f32(4), f32(4))).toThrow(/argument 0/);
    expect(() => n.activation(0, 2.5, f32(4), f32(4))).toThrow(/argument 1: expected an integer/);
    expect(() => n.activation(0, Number.NaN, f32(4), f32(4))).toThrow(/argument 1: expected an integer/);
    expect(() => n.softmaxCrossEntropy(2, 3, 1, f32(6), Int32Array.from([0, 3]), f32(6), f32(3)))
      .toThrow(/label 3 at row 1 is outside \[0, 3\)/);
    expect(() => n.softmaxCrossEntropy(1, 3, 1, f32(3), Int32Array.from([-1]), f32(3), f32(3))).toThrow(/label -1/);
    expect(() => (n.scale as unknown as Loose)(4, 'x', f32(4), f32(4))).toThrow(/expected a number/);
    expect(() => (n.sgdUpdate as unknown as Loose)(1, 0.1, 0.9, 0, 0, 1, false, false, f32(1), f32(1), f32(1)))
      .toThrow(/argument 5: expected a boolean/);
    expect(() => (n.conv2dForward as unknown as Loose)('geometry', f32(1), f32(1), null, f32(1))).toThrow(/expected an array/);
    expect(() => (n.conv2dForward as unknown as Loose)([1, 2, 3], f32(1), f32(1), null, f32(1))).toThrow(/expected 14 integers, got 3/);
    expect(() => (n.conv2dForward as unknown as Loose)([...g.slice(0, 13), '6'], f32(192), f32(108), null, f32(144)))
      .toThrow(/element 13 is not a number/);
    expect(() => n.conv2dForward([...g.slice(0, 13), -6], f32(192), f32(108), null, f32(144))).toThrow(/element 13/);
    expect(() => (n.lrnForward as unknown as Loose)()).toThrow(/native.lrnForward: argument 0: expected a number/);
    expect(() => (n.pool as unknown as Loose)(0, [1, 1, 4, 4, 2, 2, 2, 2, 0, 0, 2, 2], false, f32(16))).toThrow(/argument 4: expected a Float32Array/);
  });

  it('rejects geometry whose element counts overflow (a wrapped product would pass the length checks)', () => {
    const big = 65536; // 65536^4 = 2^64
    expect(() => n.conv2dForward([big, big, big, big, 1, 1, 1, 1, 1, 0, 0, 1, big, big], f32(1), f32(1), null, f32(1)))
      .toThrow(/sizes too large/);
    expect(() => n.pool(0, [big, big, big, big, 1, 1, 1, 1, 0, 0, big, big], false, f32(1), f32(1))).toThrow(/sizes too large/);
    expect(() => n.lrnForward(2 ** 22, 2 ** 22, 2 ** 22, 5, 1, 0.75, 2, f32(1), f32(1), f32(1))).toThrow(/sizes too large/);
    expect(() => n.biasAdd(2 ** 30, 2 ** 30, 2 ** 30, f32(1), f32(1), f32(1))).toThrow(/sizes too large/);
    expect(() => n.softmax(2 ** 30, 2 ** 30, f32(1), f32(1))).toThrow(/sizes too large/);
    expect(() => n.conv2dForward([1, 1, 2 ** 31, 1, 1, 1, 1, 1, 1, 0, 0, 1, 2 ** 31, 1], f32(1), f32(1), null, f32(1)))
      .toThrow(/must be an integer in \[0, 2\^31\)/);
  });

  it('empty tensors: nothing to compute, nothing allocated for the sizes of the other dimensions', () => {
    const huge = 2 ** 30;
    // no images: the geometry says 2^30 x 2^30 planes, but there is nothing to read or write
    n.pool(0, [0, 1, huge, huge, 3, 3, 2, 2, 0, 0, huge / 2 - 1, huge / 2 - 1], false, f32(0), f32(0));
    n.pool(1, [0, 1, huge, huge, 3, 3, 2, 2, 0, 0, huge / 2 - 1, huge / 2 - 1], false, f32(0), f32(0), f32(0));
    const wide = 2 ** 20;
    n.conv2dForward([0, 3, wide, wide, 4, 3, 3, 1, 1, 0, 0, 1, wide - 2, wide - 2], f32(0), f32(108), null, f32(0));
    n.lrnForward(0, 96, huge, 5, 1e-4, 0.75, 2, f32(0), f32(0), f32(0));
    // no output channels: dx and dw are zero (no output, no gradient)
    const dx = f32(192).fill(Number.NaN);
    n.conv2dBackwardInput([1, 3, 8, 8, 0, 3, 3, 1, 1, 0, 0, 1, 6, 6], f32(0), f32(0), dx);
    expect(dx.every((v) => v === 0)).toBe(true);
    const dw = f32(108).fill(Number.NaN);
    n.conv2dBackwardWeight([0, 3, 8, 8, 4, 3, 3, 1, 1, 0, 0, 1, 6, 6], f32(0), f32(0), dw);
    expect(dw.every((v) => v === 0)).toBe(true);
    const out = f32(2).fill(7);
    n.sumAndSquares(0, f32(0), out);
    expect(Array.from(out)).toEqual([0, 0]);
  });
});
