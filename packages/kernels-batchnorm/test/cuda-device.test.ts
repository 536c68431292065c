// The CUDA build's launch plumbing, on its host emulator: the launches name the tensor's device (`cuda:N`) and the
// synchronising debug mode (CONVNET_CUDA_SYNC=1) is read; the block-per-channel reductions agree with `ref` where
// a thread's elements wrap across planes (planes longer and shorter than a block).
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Rng, Tensor, getBackend, listBackends, registerBackend } from '@convnet/tensor';
import { expectClose } from '@convnet/tensor/testing';
import { createCudaBackend } from '@convnet/cuda';
import { batchNorm2d, batchNorm2dBackward, batchNorm2dInference, loadBatchNormAddon, registerBatchNorm } from '../src/index.js';

if (!listBackends().includes('cuda-host')) registerBackend(createCudaBackend({ emulator: true }));
registerBatchNorm();
const host = loadBatchNormAddon('cuda-host') as unknown as Record<string, (...a: unknown[]) => unknown>;
const rng = new Rng(11);
const randn = (shape: number[], s = 1, m = 0) =>
  new Tensor(Float32Array.from(rng.normal(shape.reduce((a, b) => a * b, 1)), (v) => v * s + m), shape);

describe('batch norm on a CUDA backend: device and debug mode', () => {
  it("each launch carries the backend's device index (the addon makes that device current)", () => {
    const seen: unknown[] = [];
    const names = ['batchNorm2d', 'batchNorm2dInference', 'batchNorm2dBackward'];
    const orig = names.map((n) => host[n]);
    names.forEach((n, i) => { host[n] = (s: unknown, attrs: { device: number }, ...rest: unknown[]) => (seen.push([n, attrs.device]), orig[i](s, attrs, ...rest)); });
    try {
      const x = randn([2, 3, 4, 4]), w = randn([3]), b = randn([3]), m = randn([3]), v = new Tensor(new Float32Array(3).fill(1), [3]);
      const f = batchNorm2d(x, w, b, m, v, { backend: 'cuda-host' });
      batchNorm2dBackward(x, randn([2, 3, 4, 4]), w, f.saveMean, f.saveInvStd, { backend: 'cuda-host' });
      batchNorm2dInference(x, w, b, m, v, { backend: 'cuda-host' });
    } finally {
      names.forEach((n, i) => { host[n] = orig[i]; });
    }
    const index = (getBackend('cuda-host') as unknown as { device: { index: number } }).device.index;
    expect(seen).toEqual([['batchNorm2d', index], ['batchNorm2dBackward', index], ['batchNorm2dInference', index]]);
  });

  it('the host build has device 0 only and says so for another index', () => {
    const f = new Float32Array(4);
    expect(() => host.batchNorm2dInference(0, { n: 1, c: 1, plane: 4, eps: 1e-5, device: 1 }, f, f, f, f, f, f))
      .toThrow(/there is only device 0, got 1/);
  });

  it('CONVNET_CUDA_SYNC=1 turns the synchronising debug mode on (read by the addon, as @convnet/cuda does)', () => {
    expect((host.info() as { sync: boolean }).sync).toBe(process.env.CONVNET_CUDA_SYNC === '1');
    const child = (sync: string) => JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e',
      `import { loadBatchNormAddon } from '@convnet/kernels-batchnorm'; console.log(JSON.stringify(loadBatchNormAddon('cuda-host').info()))`],
    { cwd: new URL('..', import.meta.url), env: { ...process.env, CONVNET_CUDA_SYNC: sync }, encoding: 'utf8' }));
    expect(child('1')).toEqual({ kind: 'cuda-host', sync: true });
    expect(child('0')).toEqual({ kind: 'cuda-host', sync: false });
  });
});

describe('block-per-channel reductions against ref', () => {
  // planes longer than a block (a thread walks several offsets of one plane), shorter (it strides across images),
  // 1×1, and a batch of one
  for (const shape of [[3, 2, 20, 20], [37, 4, 3, 3], [300, 3, 1, 1], [1, 2, 17, 19]]) {
    it(`[${shape}]: statistics, y, running statistics, dx, dweight, dbias`, () => {
      const c = shape[1];
      const x = randn(shape, 3, -2), w = randn([c]), b = randn([c]), dy = randn(shape);
      const runs = ['ref', 'cuda-host'].map((backend) => {
        const m = new Tensor(new Float32Array(c).fill(0.5), [c]), v = new Tensor(new Float32Array(c).fill(2), [c]);
        const f = batchNorm2d(x, w, b, m, v, { backend, momentum: 0.3 });
        const g = batchNorm2dBackward(x, dy, w, f.saveMean, f.saveInvStd, { backend });
        return { ...f, ...g, m, v, e: batchNorm2dInference(x, w, b, m, v, { backend }) };
      });
      for (const k of ['y', 'saveMean', 'saveInvStd', 'm', 'v', 'e', 'dx', 'dweight', 'dbias'] as const)
        expectClose(`cuda-host ${k}`, runs[1][k], runs[0][k], 1e-5, 1e-5);
    });
  }
});
