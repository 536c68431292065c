// Contract C1: a tensor is recognised by its `Symbol.for('convnet.tensor')` brand, not by class identity, so the
// ESM build (here: src) and the CJS build (dist/index.cjs) loaded in one process accept each other's tensors.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TENSOR_ABI, TENSOR_BRAND, Tensor, describeValue, isTensor, matmul } from '../src/index.js';

const cjsPath = join(import.meta.dirname, '..', 'dist', 'index.cjs');

describe('tensor identity (brand)', () => {
  it('the brand is the registry symbol, its value the tensor ABI', () => {
    const t = Tensor.zeros([2]);
    expect(TENSOR_BRAND).toBe(Symbol.for('convnet.tensor'));
    expect((t as unknown as Record<symbol, unknown>)[Symbol.for('convnet.tensor')]).toBe(TENSOR_ABI);
    expect(isTensor(t)).toBe(true);
    expect(isTensor(t.reshape([1, 2]))).toBe(true);
    for (const v of [null, undefined, 3, 'x', new Float32Array(2), { shape: [2], data: new Float32Array(2) }])
      expect(isTensor(v)).toBe(false);
  });

  it('a tensor of another ABI is refused with a message naming both ABIs and the fix', () => {
    const alien = { [Symbol.for('convnet.tensor')]: TENSOR_ABI + 1, shape: [2, 2], data: new Float32Array(4) };
    expect(isTensor(alien)).toBe(false);
    expect(describeValue(alien)).toContain(`tensor ABI ${TENSOR_ABI + 1} from another copy of @convnet/tensor`);
    expect(() => matmul(alien as unknown as Tensor, Tensor.zeros([2, 2]))).toThrow(
      `matmul: argument 'a': expected a rank-2 float32 Tensor, got a Tensor of tensor ABI ${TENSOR_ABI + 1} from another copy of @convnet/tensor (this copy has ABI ${TENSOR_ABI}; install one version: npm ls @convnet/tensor)`,
    );
  });

  const noCjs = existsSync(cjsPath) ? '' : ` (skipped: no CJS build at ${cjsPath}; run pnpm build)`;
  it.runIf(!noCjs)(`ESM and CJS builds in one process accept each other's tensors${noCjs}`, () => {
    const cjs = createRequire(import.meta.url)(cjsPath) as typeof import('../src/index.js');
    expect(cjs.Tensor).not.toBe(Tensor); // two classes: instanceof by prototype would fail
    const a = cjs.Tensor.from([1, 2, 3, 4], [2, 2]);
    const b = Tensor.from([5, 6, 7, 8], [2, 2]);
    expect(isTensor(a)).toBe(true);
    expect(cjs.isTensor(b)).toBe(true);
    expect(a instanceof Tensor).toBe(true);
    expect(b instanceof cjs.Tensor).toBe(true);
    expect(matmul(a, b).toArray()).toEqual([19, 22, 43, 50]);
    expect(cjs.matmul(b, a).toArray()).toEqual([23, 34, 31, 46]);
  });

  it('subclasses keep the prototype check for instanceof', () => {
    class Sub extends Tensor {}
    const s = new Sub(new Float32Array(1), [1]);
    expect(s instanceof Sub).toBe(true);
    expect(s instanceof Tensor).toBe(true);
    expect(Tensor.zeros([1]) instanceof Sub).toBe(false);
    expect(isTensor(s)).toBe(true);
  });
});
