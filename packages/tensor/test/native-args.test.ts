// Bad arguments straight to the addon throw JS errors naming the function and argument; nothing crashes.
import { describe, expect, it } from 'vitest';
import { native } from '../src/index.js';

describe('native argument checks', () => {
  const n = native();
  const g = [1, 3, 8, 8, 4, 3, 3, 1, 1, 0, 0, 1, 6, 6];
  it('rejects too-short buffers for the geometry it is told', () => {
    expect(() => n.conv2dForward(g, new Float32Array(10), new Float32Array(108), null, new Float32Array(144)))
      .toThrow(/native.conv2dForward: argument 1: Float32Array too short: need 192 elements, got 10/);
    expect(() => n.sgemm(false, false, 4, 4, 4, 1, new Float32Array(16), 4, new Float32Array(16), 4, 0, new Float32Array(15), 4))
      .toThrow(/argument 11: Float32Array too short/);
  });
  it('rejects wrong types and inconsistent geometry', () => {
    expect(() => n.conv2dForward(g, new Float64Array(192) as unknown as Float32Array, new Float32Array(108), null, new Float32Array(144)))
      .toThrow(/argument 1: expected a Float32Array/);
    expect(() => n.conv2dForward([1, 3, 8, 8, 4, 3, 3, 1, 1, 0, 0, 2, 6, 6], new Float32Array(192), new Float32Array(108), null, new Float32Array(144)))
      .toThrow(/groups must divide c and o/);
    expect(() => n.pool(0, [1, 1, 4, 4, 3, 3, 2, 2, 0, 0, 9, 9], false, new Float32Array(16), new Float32Array(81)))
      .toThrow(/a window would start past the input/);
    expect(() => n.activation(7, 4, new Float32Array(4), new Float32Array(4))).toThrow(/argument 0: expected an integer in \[0, 4\]/);
    expect(() => n.softmaxCrossEntropy(2, 3, 1, new Float32Array(6), Int32Array.from([0, 3]), new Float32Array(6), new Float32Array(3)))
      .toThrow(/label 3 at row 1 is outside \[0, 3\)/);
    expect(() => (n.scale as unknown as (...a: unknown[]) => void)(4, 'x', new Float32Array(4), new Float32Array(4))).toThrow(/expected a number/);
  });
});
