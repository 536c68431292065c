// Strict memory mode (CONVNET_CUDA_STRICT=1 / DeviceOptions.strict) on the emulator: the implicit host access to
// a device tensor (.data, get, toArray: a hidden device→host copy on a GPU) throws; the explicit copies work and
// are counted, one per tensor; device-resident ops do not touch the host at all.
import { describe, expect, it } from 'vitest';
import { Rng, Tensor, add, alloc, listBackends, memoryOf, registerBackend, sumAndSquares, toBackend, toHostTensor } from '@convnet/tensor';
import { CudaDevice, CudaTensor, createCudaBackend } from '../src/index.js';

// this file's process opens the emulated device strict (options apply when a device is first opened)
if (!listBackends().includes('cuda-host')) registerBackend(createCudaBackend({ emulator: true, strict: true }));
const dev = CudaDevice.get(0, { emulator: true });
const backend = 'cuda-host';
const host = (shape: number[], seed: number) => new Tensor(new Rng(seed).normal(shape.reduce((a, b) => a * b, 1)), shape);
const since = (t0: ReturnType<CudaDevice['transfers']>) => {
  const t = dev.transfers();
  return { up: t.uploads - t0.uploads, down: t.downloads - t0.downloads, upBytes: t.uploadBytes - t0.uploadBytes, downBytes: t.downloadBytes - t0.downloadBytes };
};

describe('strict memory mode (cuda-host)', () => {
  it('is on for this device; implicit host access throws and names the fix', () => {
    expect(dev.strict).toBe(true);
    using t = CudaTensor.fromHost(host([3, 4], 1), dev);
    expect(() => t.data).toThrow(/CudaTensor\[3, 4\] on cuda-host:0: host access to device memory .* CONVNET_CUDA_STRICT=1.*toHost\(\)/);
    expect(() => t.get(0, 0)).toThrow(/CONVNET_CUDA_STRICT=1/);
    expect(() => t.toArray()).toThrow(/CONVNET_CUDA_STRICT=1/);
    // a view shares the block and the rule
    using v = t.batch(1, 2);
    expect(() => v.data).toThrow(/CONVNET_CUDA_STRICT=1/);
  });

  it('explicit copies work and are counted: one upload or download per tensor, its bytes exactly', () => {
    const a = host([5, 7], 2), b = host([5, 7], 3);
    const t0 = dev.transfers();
    const da = toBackend(a, backend), db = toBackend(b, backend);
    expect(since(t0)).toEqual({ up: 2, down: 0, upBytes: 2 * 35 * 4, downBytes: 0 });
    // a chain of device ops: nothing crosses
    const t1 = dev.transfers();
    const y = add(add(da, db, { backend }), da, { backend });
    expect(memoryOf(y)).toBe(backend);
    expect(since(t1)).toEqual({ up: 0, down: 0, upBytes: 0, downBytes: 0 });
    // the result comes down once
    const t2 = dev.transfers();
    const h = toHostTensor(y);
    expect(since(t2)).toEqual({ up: 0, down: 1, upBytes: 0, downBytes: 35 * 4 });
    h.data.forEach((v, i) => expect(v).toBeCloseTo(2 * a.data[i] + b.data[i], 5));
    // a reduction brings down its two float64 scalars, not the tensor
    const t3 = dev.transfers();
    const s = sumAndSquares(y, { backend });
    expect(since(t3)).toEqual({ up: 0, down: 1, upBytes: 0, downBytes: 16 });
    expect(s.sum).toBeCloseTo(h.data.reduce((p, v) => p + v, 0), 3);
  });

  it('copyFrom a host tensor uploads once; alloc gives device zeros without a host copy', () => {
    const t0 = dev.transfers();
    const z = alloc([64], backend);
    expect(since(t0)).toEqual({ up: 0, down: 0, upBytes: 0, downBytes: 0 });
    z.copyFrom(host([64], 4));
    expect(since(t0)).toEqual({ up: 1, down: 0, upBytes: 256, downBytes: 0 });
    expect(toHostTensor(z).data).toEqual(host([64], 4).data);
  });
});
