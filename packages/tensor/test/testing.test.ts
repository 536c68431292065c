// The published suite as a kernel package uses it: a contributed kernel's case runs on a backend that implements
// it, a backend that leaves it out is reported (a skipped case naming the fallback), and a wrong implementation
// is caught by the case.
import { describe, expect, it } from 'vitest';
import { Tensor, registerBackend, registerKernel, registerKernelSpec, resolveKernel, runKernel } from '../src/index.js';
import { describeConformance, expectClose, type ConformanceCase } from '../src/testing/index.js';

registerKernelSpec({
  name: 'testCube', inputs: { x: 'tensor' }, attrs: {}, outputs: ['y'],
  validate: ({ x }) => ({ y: (x as Tensor).shape }),
});
const cube = (x: Tensor, y: Tensor, wrong = false) => {
  for (let i = 0; i < x.size; i++) y.data[i] = x.data[i] ** 3 + (wrong && i === 3 ? 1e-3 : 0);
};
registerKernel('testCube', 'ref', ({ x }: { x: Tensor }, _a: object, { y }: { y: Tensor }) => cube(x, y));
registerBackend({ name: 'implements-cube', fallback: 'cpu', kernels: { testCube: ({ x }: { x: Tensor }, _a: object, { y }: { y: Tensor }) => cube(x, y) } });
registerBackend({ name: 'wrong-cube', fallback: 'cpu', kernels: { testCube: ({ x }: { x: Tensor }, _a: object, { y }: { y: Tensor }) => cube(x, y, true) } });
registerBackend({ name: 'leaves-cube-out', fallback: 'cpu', kernels: {} });

const cubeCase: ConformanceCase = {
  name: 'testCube on 1001 values',
  kernels: ['testCube'],
  run: (backend) => {
    const x = new Tensor(Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i)), [7, 143]);
    expectClose('testCube', runKernel('testCube', { x }, {}, { backend }).y, runKernel('testCube', { x }, {}, { backend: 'ref' }).y, 1e-6, 0);
  },
};

describeConformance({ backends: ['implements-cube', 'leaves-cube-out'], builtins: false, cases: [cubeCase] });

describe('the suite reports rather than fails a kernel left out', () => {
  it('a backend without the kernel runs it on ref (the case is skipped there), and a wrong one is caught', () => {
    expect(resolveKernel('testCube', 'leaves-cube-out')?.backend).toBe('ref');
    expect(() => cubeCase.run('wrong-cube')).toThrow(/testCube: largest error 1\.0\d*e-3 at 3/);
  });
});
