// The registry as a kernel author meets it: a kernel declared and implemented entirely in this file (spec +
// ref only) registers and runs through `runKernel` on every backend, which fall back to `ref` for it; the
// registry state is shared by two copies of the module and refused, with one message, across ABIs.
import { describe, expect, it, vi } from 'vitest';
import {
  KERNEL_NAMES, OpError, REGISTRY_ABI, Tensor, VERSION, getKernel, getKernelSpec, hasKernel, kernelCoverage, kernelNames,
  listBackends, registerBackend, registerKernel, registerKernelSpec, registryInfo, resolveKernel, runKernel,
  type KernelSpec,
} from '../src/index.js';

/** y = alpha · x² + shift[c] along axis 1 of x [n, c, ...]; also returns Σ y per row in `rowSum` [n]. */
const squareShift: KernelSpec<{ x: Tensor; shift: Tensor }, { alpha: number; mode: 'plain' | 'negate' }> = {
  name: 'testSquareShift',
  description: 'y = ±alpha·x² + shift[c]; rowSum[n] = Σ y over the row',
  inputs: { x: 'tensor', shift: 'tensor' },
  attrs: { alpha: 'number', mode: ['plain', 'negate'] },
  outputs: ['y', 'rowSum'],
  validate: ({ x, shift }) => {
    if (x.rank < 2) throw new OpError('testSquareShift', 'x', 'rank >= 2 [n, c, ...]', `shape [${x.shape.join(', ')}]`);
    if (shift.rank !== 1 || shift.shape[0] !== x.shape[1])
      throw new OpError('testSquareShift', 'shift', `shape [${x.shape[1]}]`, `shape [${shift.shape.join(', ')}]`);
    return { y: x.shape, rowSum: [x.shape[0]] };
  },
};

function squareShiftRef(
  { x, shift }: { x: Tensor; shift: Tensor }, { alpha, mode }: { alpha: number; mode: string }, { y, rowSum }: { y: Tensor; rowSum: Tensor },
): void {
  const [n, c] = x.shape;
  const inner = x.size / (n * c);
  const sign = mode === 'negate' ? -1 : 1;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < c; j++) {
      for (let k = 0; k < inner; k++) {
        const at = (i * c + j) * inner + k;
        y.data[at] = sign * alpha * x.data[at] * x.data[at] + shift.data[j];
        s += y.data[at];
      }
    }
    rowSum.data[i] = s;
  }
}

registerKernelSpec(squareShift as unknown as KernelSpec);
registerKernel('testSquareShift', 'ref', squareShiftRef);

describe('a kernel declared and implemented in a test file (spec + ref only)', () => {
  const x = new Tensor(Float32Array.from([1, -2, 3, 0.5, 4, -1, 2, 2, 0, 1, -3, 1]), [2, 3, 2]);
  const shift = Tensor.from([10, 20, 30]);

  it('is listed next to the built-ins and runs through runKernel with allocated outputs', () => {
    expect(kernelNames()).toEqual(expect.arrayContaining([...KERNEL_NAMES, 'testSquareShift']));
    const { y, rowSum } = runKernel('testSquareShift', { x, shift }, { alpha: 2, mode: 'plain' }, { backend: 'ref' });
    expect(Array.from(y.data)).toEqual([12, 18, 38, 20.5, 62, 32, 18, 18, 20, 22, 48, 32]);
    expect(Array.from(rowSum.data)).toEqual([182.5, 158]);
  });

  it('runs on every backend: those that leave it out fall back to ref', () => {
    const want = runKernel('testSquareShift', { x, shift }, { alpha: 0.5, mode: 'negate' }, { backend: 'ref' });
    for (const b of listBackends()) {
      expect(hasKernel('testSquareShift', b)).toBe(b === 'ref');
      expect(resolveKernel('testSquareShift', b)?.backend).toBe('ref');
      const got = runKernel('testSquareShift', { x, shift }, { alpha: 0.5, mode: 'negate' }, { backend: b });
      expect(got.y.data).toEqual(want.y.data);
    }
    const cov = kernelCoverage(['cpu']);
    expect(cov.cpu.testSquareShift).toBe('ref');
    expect(cov.cpu.conv2d).toBe('cpu');
    expect(getKernel('testSquareShift', 'cpu')).toBe(squareShiftRef);
  });

  it('writes into preallocated outputs, and a backend may implement it by name', () => {
    const y = Tensor.zeros([2, 3, 2]), rowSum = Tensor.zeros([2]);
    const r = runKernel('testSquareShift', { x, shift }, { alpha: 1, mode: 'plain' }, { out: { y, rowSum } });
    expect(r.y).toBe(y);
    expect(rowSum.data[0]).toBe(1 + 4 + 9 + 0.25 + 16 + 1 + 10 * 2 + 20 * 2 + 30 * 2);
    let calls = 0;
    registerBackend({
      name: 'test-counting', fallback: 'cpu',
      kernels: { testSquareShift: (...args: Parameters<typeof squareShiftRef>) => { calls++; squareShiftRef(...args); } },
    });
    runKernel('testSquareShift', { x, shift }, { alpha: 1, mode: 'plain' }, { backend: 'test-counting' });
    expect(calls).toBe(1);
    expect(resolveKernel('conv2d', 'test-counting')?.backend).toBe('cpu');
  });

  it('checks inputs and attributes against the spec, then runs its validator', () => {
    const run = (inputs: Record<string, unknown>, attrs: Record<string, unknown>, out?: Record<string, Tensor>) =>
      () => runKernel('testSquareShift', inputs, attrs, { out });
    const attrs = { alpha: 1, mode: 'plain' };
    expect(run({ x }, attrs)).toThrow("testSquareShift: argument 'shift': expected a float32 Tensor, got undefined");
    expect(run({ x, shift, bias: shift }, attrs)).toThrow("argument 'bias': expected one of the inputs x, shift, got an unknown input 'bias'");
    expect(run({ x, shift }, { alpha: '1', mode: 'plain' })).toThrow("argument 'alpha': expected a finite number, got 1");
    expect(run({ x, shift }, { alpha: 1, mode: 'square' })).toThrow("argument 'mode': expected one of 'plain', 'negate', got square");
    expect(run({ x, shift }, { alpha: 1, mode: 'plain', beta: 2 })).toThrow("argument 'beta': expected one of the attributes alpha, mode, got an unknown attribute 'beta'");
    expect(run({ x, shift: Tensor.from([1, 2]) }, attrs)).toThrow("testSquareShift: argument 'shift': expected shape [3], got shape [2]");
    expect(run({ x, shift }, attrs, { y: Tensor.zeros([2, 3]) })).toThrow("argument 'out.y': expected shape [2, 3, 2], got shape [2, 3]");
    expect(() => runKernel('gelu', {}, {})).toThrow("unknown kernel 'gelu': no spec is registered under that name");
  });
});

describe('registering specs and backends', () => {
  it('refuses a backend kernel without a spec, naming the fix', () => {
    expect(() => registerBackend({ name: 'mine', kernels: { gelu: () => {} } })).toThrow(
      "registerBackend('mine'): unknown kernel 'gelu' (register its spec first with registerKernelSpec",
    );
    expect(listBackends()).not.toContain('mine');
    expect(() => registerKernel('gelu', 'ref', () => {})).toThrow("unknown kernel 'gelu'");
  });

  it('re-registering the same declaration is a no-op; a different one under the name is an error', () => {
    registerKernelSpec({ ...(squareShift as unknown as KernelSpec) });
    expect(getKernelSpec('testSquareShift').outputs).toEqual(['y', 'rowSum']);
    expect(() => registerKernelSpec({ ...(squareShift as unknown as KernelSpec), outputs: ['y'] })).toThrow(
      "registerKernelSpec('testSquareShift'): a different kernel named 'testSquareShift' is already registered",
    );
    expect(() => registerKernelSpec({ name: 'bad name', inputs: {}, attrs: {}, outputs: ['y'] })).toThrow('needs a name that is an identifier');
    expect(() => registerKernelSpec({ name: 'badInput', inputs: { x: 'float' as never }, attrs: {}, outputs: ['y'] })).toThrow(
      "input 'x' must have type 'tensor', 'tensor?' or 'int32', got \"float\"",
    );
    expect(() => registerKernelSpec({ name: 'noOutputs', inputs: {}, attrs: {}, outputs: [] })).toThrow("'outputs' must be a non-empty array");
  });

  it('the built-in specs declare named attributes (LRN by name, pooling geometry by field)', () => {
    expect(getKernelSpec('lrn').attrs).toEqual({ size: 'int', alpha: 'number', beta: 'number', k: 'number', alphaMode: ['divide-by-size', 'paper'] });
    expect(getKernelSpec('softmaxCrossEntropy').inputs).toEqual({ logits: 'tensor', labels: 'int32' });
    expect(Object.keys(getKernelSpec('avgPool2d').attrs)).toContain('countIncludePad');
  });
});

describe('registry state on globalThis', () => {
  const KEY = Symbol.for('convnet.tensor.registry');

  it('carries the ABI number and version; a second copy of the module shares it', async () => {
    expect(registryInfo()).toEqual({ abi: REGISTRY_ABI, version: VERSION, thisCopy: VERSION });
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
    vi.resetModules();
    const copy = await import('../src/registry.js');
    expect(copy.kernelNames()).toContain('testSquareShift');
    copy.registerBackend({ name: 'from-second-copy', kernels: {} });
    expect(listBackends()).toContain('from-second-copy');
  });

  it('a copy with another ABI fails at import with one message naming both versions and the fix', async () => {
    const g = globalThis as unknown as Record<symbol, unknown>;
    const real = g[KEY];
    Object.defineProperty(globalThis, KEY, { value: { abi: REGISTRY_ABI + 1, version: '9.9.9' }, configurable: true });
    try {
      vi.resetModules();
      await expect(import('../src/registry.js')).rejects.toThrow(
        `@convnet/tensor: two incompatible copies are loaded: ${VERSION} (registry ABI ${REGISTRY_ABI}) and 9.9.9 (registry ABI ${REGISTRY_ABI + 1})`,
      );
      vi.resetModules();
      await expect(import('../src/registry.js')).rejects.toThrow('`npm dedupe` (or `pnpm dedupe`)');
    } finally {
      Object.defineProperty(globalThis, KEY, { value: real, configurable: true });
    }
    expect(listBackends()).toContain('from-second-copy');
  });
});
