// The `cuda` backend's TypeScript side and kernels on the host emulator: device tensors (resident ops,
// views, dispose, host mirrors), staging and the allocator after real ops, batched/reducing SGEMM launches,
// dropout offsets, the uint8 augmentation kernel against @convnet/augment, and argument errors.
import { describe, expect, it } from 'vitest';
import { Augmenter } from '@convnet/augment';
import {
  Rng, Tensor, activation, conv2d, conv2dBackwardWeight, dropout, getBackend, listBackends, matmul, registerBackend,
} from '@convnet/tensor';
import { CudaDevice, CudaTensor, augmentBatch, createCudaBackend } from '../src/index.js';

if (!listBackends().includes('cuda-host')) registerBackend(createCudaBackend({ emulator: true }));
const dev = CudaDevice.get(0, { emulator: true });
const backend = 'cuda-host';
const rng = new Rng(5);
const randn = (shape: number[]) => new Tensor(rng.normal(shape.reduce((a, b) => a * b, 1)), shape);

function maxErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('device tensors on the emulator', () => {
  it('round-trips, computes in place on the device, and downloads only when read', () => {
    const x = randn([2, 3, 9, 9]), w = randn([4, 3, 3, 3]);
    using dx = CudaTensor.fromHost(x, dev);
    using dw = CudaTensor.fromHost(w, dev);
    using dy = new CudaTensor(dev, [2, 4, 7, 7]);
    conv2d(dx, dw, null, { backend, out: dy });
    activation(dy, 'relu', { backend, out: dy });  // in place on the device
    const want = activation(conv2d(x, w, null, { backend: 'ref' }), 'relu', { backend: 'ref' });
    expect(maxErr(dy.toHost().data, want.data)).toBeLessThan(1e-4);
    // .data downloads; writes through it are uploaded before the next device use
    dx.data.fill(0);
    conv2d(dx, dw, null, { backend, out: dy });
    expect(maxErr(dy.data, new Float32Array(dy.size))).toBe(0);
    expect(String(dx)).toBe('CudaTensor[2, 3, 9, 9] on cuda-host:0');
  });

  it('views share the device block; dispose returns it to the cache once no view uses it', () => {
    const before = dev.allocator.stats();
    const t = CudaTensor.fromHost(Tensor.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [3, 4]), dev);
    const v = t.batch(1, 3);
    const r = v.reshape([-1]);
    expect(r.shape).toEqual([8]);
    expect(Array.from(r.toHost().data)).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    // a kernel writing the view changes the base
    activation(CudaTensor.fromHost(Tensor.full([2, 4], -1), dev), 'relu', { backend, out: v });
    expect(Array.from(t.data)).toEqual([0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
    t.dispose();
    expect(dev.allocator.stats().blocksInUse).toBe(before.blocksInUse + 2);  // v and r keep it; plus relu's input
    v.dispose();
    r.dispose();
    expect(() => r.ptr).toThrow(/used after dispose/);
    expect(() => t.data).toThrow(/used after dispose/);
    expect(() => t.reshape([12])).toThrow(/used after dispose/);
    expect(() => v.batch(0, 3)).toThrow();
  });

  it('copyFromAsync from pinned memory, then kernels on the compute stream see the data', () => {
    const pinned = dev.allocPinned(6);
    pinned.set([1, -2, 3, -4, 5, -6]);
    using t = new CudaTensor(dev, [2, 3]);
    t.copyFromAsync(pinned);
    activation(t, 'relu', { backend, out: t });
    dev.synchronize();
    expect(Array.from(t.data)).toEqual([1, 0, 3, 0, 5, 0]);
    expect(() => t.copyFromAsync(new Float32Array(5))).toThrow("copyFromAsync: argument 'src': expected a Float32Array of 6 elements, got 5 elements");
    expect(() => dev.allocPinned(0)).toThrow('cuda-host:0: allocPinned: length must be a positive integer, got 0');
  });

  it('host tensors are staged through the cache: no blocks stay in use, mallocs stop after the first call', () => {
    const x = randn([3, 8, 13, 13]), w = randn([6, 4, 3, 3]);
    // an output the op allocates lives in the backend's memory (contract C3): a CudaTensor
    const y0 = conv2d(x, w, null, { padding: 1, groups: 2, backend });
    expect(y0).toBeInstanceOf(CudaTensor);
    y0.dispose();
    const s1 = dev.allocator.stats();
    for (let i = 0; i < 3; i++) conv2d(x, w, null, { padding: 1, groups: 2, backend }).dispose();
    const s2 = dev.allocator.stats();
    expect(s2.blocksInUse).toBe(s1.blocksInUse);
    expect(s2.deviceMallocs).toBe(s1.deviceMallocs);
    expect(s2.cacheHits).toBeGreaterThanOrEqual(s1.cacheHits + 3 * 3);  // x, w, y and the workspace per call
  });

  it('a small convolution workspace processes the images in chunks with the same result', () => {
    const small = createCudaBackend({ emulator: true, name: 'cuda-host-small-ws', convWorkspaceBytes: 1 });
    registerBackend(small);
    const x = randn([5, 4, 11, 10]), dy = randn([5, 6, 6, 5]);
    const opts = { stride: 2, padding: 1 };
    const a = conv2dBackwardWeight(x, dy, [6, 4, 3, 3], { ...opts, backend: 'cuda-host-small-ws' });
    const b = conv2dBackwardWeight(x, dy, [6, 4, 3, 3], { ...opts, backend });
    const r = conv2dBackwardWeight(x, dy, [6, 4, 3, 3], { ...opts, backend: 'ref' });
    expect(maxErr(a.data, r.data)).toBeLessThan(1e-4);
    expect(maxErr(a.data, b.data)).toBeLessThan(1e-4);  // chunks sum in another order
    expect(getBackend('cuda-host-small-ws').description).toMatch(/host emulator/);
  });

  it('the weight gradient split over images (split-K): against ref, grouped, identical bits run to run', () => {
    // conv1-like (a 16 × 363 product: one tile, so each image is its own split) and a grouped conv2-like one
    for (const [xs, ws, o] of [
      [[9, 3, 23, 23], [16, 3, 11, 11], { stride: 4, padding: 2 }],
      [[6, 8, 7, 7], [12, 4, 5, 5], { padding: 2, groups: 2 }],
    ] as [number[], number[], object][]) {
      const x = randn(xs), y = conv2d(x, randn(ws), null, { ...o, backend: 'ref' }), dy = randn(y.shape);
      const r = conv2dBackwardWeight(x, dy, ws, { ...o, backend: 'ref' });
      const a = conv2dBackwardWeight(x, dy, ws, { ...o, backend });
      const b = conv2dBackwardWeight(x, dy, ws, { ...o, backend });
      expect(maxErr(a.data, r.data)).toBeLessThan(1e-4 * Math.sqrt(xs[0] * y.shape[2] * y.shape[3]));
      expect(Array.from(a.data)).toEqual(Array.from(b.data));
    }
  });
});

describe('SGEMM launches (the tiles of kernels/sgemm.h) on the emulator', () => {
  // a mutated tile loop (e.g. the stash into the wrong buffer, or a k tile skipped) fails these and conformance
  const s = dev.stream;
  const a = dev.addon;
  // reference: C_z = alpha op(A_z) op(B_z) + beta C_z (float64)
  function ref(M: number, N: number, K: number, tA: boolean, tB: boolean, A: Float32Array, B: Float32Array, C: Float32Array, alpha: number, beta: number) {
    const out = new Float64Array(M * N);
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += (tA ? A[k * M + m] : A[m * K + k]) * (tB ? B[n * K + k] : B[k * N + n]);
      out[m * N + n] = alpha * acc + (beta === 0 ? 0 : beta * C[m * N + n]);
    }
    return out;
  }

  it('batched (gridDim.z) and batch-reduced products, tiles cut at every edge', () => {
    // 128×128 tiles, k tiles of 8 (double-buffered), 4-float loads: edges at 128 and 8, K < 8, odd leading dimensions
    // (the scalar tails of the 4-float loads), and rows past 64 (the second half of each thread's 8×8 tile)
    const sizes = [[65, 70, 17, 3], [1, 129, 33, 2], [64, 64, 16, 1], [3, 5, 100, 4], [130, 131, 9, 2], [129, 6, 7, 1], [67, 200, 41, 1]];
    for (const [M, N, K, batch] of sizes) {
      for (const tA of [false, true]) for (const tB of [false, true]) {
        const A = rng.normal(batch * M * K), B = rng.normal(batch * K * N), C = rng.normal(batch * M * N);
        const pa = dev.allocator.alloc(A.byteLength), pb = dev.allocator.alloc(B.byteLength), pc = dev.allocator.alloc(C.byteLength);
        dev.upload(pa.ptr, A); dev.upload(pb.ptr, B); dev.upload(pc.ptr, C);
        const dims = [M, N, K, tA ? M : K, tB ? K : N, N, batch, M * K, K * N, M * N];
        a.sgemm(s, dims, tA, tB, false, 0.5, 0.25, pa.ptr, pb.ptr, pc.ptr);
        const got = new Float32Array(batch * M * N);
        dev.download(got, pc.ptr);
        for (let z = 0; z < batch; z++) {
          const want = ref(M, N, K, tA, tB, A.subarray(z * M * K), B.subarray(z * K * N), C.subarray(z * M * N), 0.5, 0.25);
          expect(maxErr(got.subarray(z * M * N, (z + 1) * M * N), want)).toBeLessThan(1e-4 * Math.sqrt(K));
        }
        // reduce: C_0 = Σ_z op(A_z) op(B_z), beta 0 (C's old contents, even NaN, are not read)
        const nan = new Float32Array(M * N).fill(NaN);
        dev.upload(pc.ptr, nan);
        a.sgemm(s, dims, tA, tB, true, 1, 0, pa.ptr, pb.ptr, pc.ptr);
        const red = new Float32Array(M * N);
        dev.download(red, pc.ptr);
        const sum = new Float64Array(M * N);
        for (let z = 0; z < batch; z++) {
          const p = ref(M, N, K, tA, tB, A.subarray(z * M * K), B.subarray(z * K * N), nan, 1, 0);
          for (let i = 0; i < M * N; i++) sum[i] += p[i];
        }
        expect(maxErr(red, sum)).toBeLessThan(1e-4 * Math.sqrt(K * batch));
        for (const b of [pa, pb, pc]) dev.allocator.release(b);
      }
    }
  });

  it('bad geometry is a JS error naming the call and argument', () => {
    expect(() => a.sgemm(s, [2, 2, 2, 1, 2, 2, 1, 0, 0, 0], false, false, false, 1, 0, 8, 8, 8)).toThrow('cuda.sgemm: argument 1: a leading dimension is smaller than its row');
    expect(() => a.sgemm(s, [2, 2, 2], false, false, false, 1, 0, 8, 8, 8)).toThrow('cuda.sgemm: argument 1: expected 10 integers, got 3');
    const pool = { n: 1, c: 1, h: 4, w: 4, kh: 2, kw: 2, sh: 2, sw: 2, ph: 0, pw: 0, oh: 2, ow: 2 };
    expect(() => a.maxPool2d(s, { ...pool, oh: 3 }, 8, 8)).toThrow('cuda.maxPool2d: attribute \'oh\': oh, ow do not follow from h, w, window, stride and padding (floor or ceil rule)');
    expect(() => a.avgPool2d(s, pool as never, 8, 8)).toThrow("cuda.avgPool2d: attribute 'countIncludePad': expected a boolean");
    const conv = { n: 1, c: 3, h: 5, w: 5, o: 4, kh: 3, kw: 3, sh: 1, sw: 1, ph: 0, pw: 0, groups: 2, oh: 3, ow: 3 };
    expect(() => a.conv2d(s, conv, 8, 8, 0, 8, 8, 1000)).toThrow("cuda.conv2d: attribute 'groups': must divide c and o");
    expect(() => a.conv2d(s, { ...conv, c: 2, groups: 1 }, 8, 8, 0, 8, 8, 4)).toThrow('cuda.conv2d: argument 7: workspace smaller than one image');
    expect(() => a.dropout(s, { len: 4, seed: 1.5, stream: 0, offset: 0, keepThreshold: 1, scale: 1 }, 8, 8, 8)).toThrow(/cuda.dropout: attribute 'seed': expected an integer/);
    expect(() => a.activation(s, { fn: 'gelu' as never, len: 4 }, 8, 8)).toThrow("cuda.activation: attribute 'fn': expected one of 'relu', 'logistic', 'tanh', 'abs', 'softplus'");
    expect(() => a.malloc(0)).toThrow(/cuda.malloc: argument 0/);
  });
});

describe('dropout on the emulator: the Philox blocks at any word offset', () => {
  it('matches ref bit for bit at unaligned offsets and lengths', () => {
    for (const [n, counter] of [[1, 0], [3, 1], [7, 2], [10, 3], [33, 5], [1000, 4097]]) {
      const x = randn([n]);
      const r = dropout(x, { p: 0.3, rng: new Rng(11, 2, counter), backend: 'ref' });
      const c = dropout(x, { p: 0.3, rng: new Rng(11, 2, counter), backend });
      expect(Array.from(c.mask.data)).toEqual(Array.from(r.mask.data));
      expect(Array.from(c.y.data)).toEqual(Array.from(r.y.data));
    }
  });
});

describe('uint8 crop + flip + lighting + normalise on the device (emulator) vs @convnet/augment', () => {
  const H = 11, W = 9, C = 3, n = 6;
  const images = Uint8Array.from({ length: n * H * W * C }, (_, i) => (i * 37 + 11) % 256);
  const get = (i: number) => images.subarray(i * H * W * C, (i + 1) * H * W * C);
  const cases: [string, ConstructorParameters<typeof Augmenter>[0]][] = [
    ['crop inside, per-channel mean/std, flips', { input: [H, W, C], size: [7, 5], flip: true, mean: [120, 110, 100], std: [50, 60, 70] }],
    ['padding with fill, scale', { input: [H, W, C], size: [11, 9], padding: 2, fill: 7, flip: true, scale: 1 / 255 }],
    ['mean image, lighting', { input: [H, W, C], size: [8, 8], flip: 0.5, lighting: { eigvals: [0.2, 0.02, 0.005], eigvecs: [[-0.58, -0.81, 0.05], [-0.58, 0.01, -0.81], [-0.56, 0.58, 0.59]] },
      meanImage: Float32Array.from({ length: H * W * C }, (_, i) => 100 + (i % 17)) }],
  ];
  for (const [name, opts] of cases) {
    it(name, () => {
      const aug = new Augmenter(opts);
      const params = aug.draw(new Rng(3, 2), n);
      const want = aug.apply(get, params);
      const out = new Tensor(new Float32Array(n * aug.sampleSize), [n, C, aug.outH, aug.outW]);
      augmentBatch(dev, {
        input: [H, W, C], size: [aug.outH, aug.outW], padding: opts.padding, fill: opts.fill, mean: opts.mean, std: opts.std,
        scale: opts.scale, meanImage: opts.meanImage,
      }, images, params, out);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(out.data[i] - want[i]) / Math.max(1, Math.abs(want[i])));
      expect(worst).toBeLessThan(1e-5);
    });
  }

  it('checks its arguments', () => {
    const p = { n: 1, top: Int32Array.of(5), left: Int32Array.of(0), flip: Uint8Array.of(0), light: new Float32Array(3) };
    const out = Tensor.zeros([1, 3, 7, 5]);
    const o = { input: [H, W, C] as [number, number, number], size: [7, 5] as [number, number] };
    expect(() => augmentBatch(dev, o, images.subarray(0, H * W * C), p, out)).toThrow('cuda augment: crop offset (5, 0) of sample 0 is outside the padded 11×9 image');
    expect(() => augmentBatch(dev, o, images.subarray(0, 5), { ...p, top: Int32Array.of(0) }, out)).toThrow(/images must be a Uint8Array of 1×11×9×3 = 297 bytes, got 5/);
    expect(() => augmentBatch(dev, { ...o, size: [12, 5] }, images, p, out)).toThrow(/a 12×5 crop does not fit/);
    expect(() => augmentBatch(dev, { ...o, std: [1, 0, 1] }, images.subarray(0, H * W * C), { ...p, top: Int32Array.of(0) }, out)).toThrow(/std must be positive/);
  });
});
