import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@convnet/tensor';
import { Augmenter } from '@convnet/augment';
import { AUGMENT_STREAM, epochOrder, Loader, pack, PackedDataset, type Batch, type ImageSet } from '@convnet/imagenet';

const PCA = { eigvals: [0.2, 0.02, 0.005], eigvecs: [[0.58, 0.58, 0.58], [0.71, 0, -0.71], [0.41, -0.82, 0.41]] };
let dir: string;
let set: ImageSet;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'convnet-loader-'));
  const n = 37, H = 20, W = 18, C = 3;
  const rng = new Rng(8);
  set = { images: Uint8Array.from(rng.words(n * H * W * C), (w) => w & 255), labels: Int32Array.from({ length: n }, (_, i) => i % 5), n, height: H, width: W, channels: C, classes: ['a', 'b', 'c', 'd', 'e'] };
  await pack(set, { out: join(dir, 'raw'), shardSize: 10 });
  await pack(set, { out: join(dir, 'jpeg'), shardSize: 10, encoding: 'jpeg' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const augment = { size: 16, padding: 2, flip: true, lighting: PCA, mean: [120, 120, 120], std: [64, 64, 64] };

async function collect(loader: Loader, epoch: number, startBatch = 0): Promise<{ x: Float32Array; labels: number[]; indices: number[] }[]> {
  const out = [];
  for await (const b of loader.epoch(epoch, { startBatch })) {
    out.push({ x: b.x.slice(), labels: Array.from(b.labels), indices: Array.from(b.indices) });
    b.release();
  }
  return out;
}

describe('Loader', () => {
  it('batches equal the direct computation: seeded order, Rng(seed, AUGMENT_STREAM + epoch) at batch·size·8', async () => {
    const loader = new Loader({ dataset: set, batchSize: 8, augment, seed: 42, workers: 0 });
    const got = await collect(loader, 3);
    expect(got.length).toBe(4); // 37 / 8, last partial dropped in train mode
    const order = epochOrder(set.n, 42, 3);
    const aug = new Augmenter({ ...augment, input: [20, 18, 3] });
    const rng = new Rng(42, AUGMENT_STREAM + 3);
    got.forEach((b, k) => {
      const idx = Array.from(order.subarray(k * 8, k * 8 + 8));
      expect(b.indices).toEqual(idx);
      expect(b.labels).toEqual(idx.map((i) => set.labels[i]));
      const want = aug.batch((i) => set.images.subarray(idx[i] * 1080, idx[i] * 1080 + 1080), 8, rng);
      expect(b.x).toEqual(want);
    });
    await loader.close();
  });

  it('slice: each rank gets its part of every batch, with the crops, flips and lighting of the whole batch', async () => {
    const whole = await collect(new Loader({ dataset: join(dir, 'raw'), batchSize: 12, augment, seed: 6, workers: 0 }), 2);
    expect(whole.length).toBe(3);
    const sz = 3 * 16 * 16;
    for (let rank = 0; rank < 3; rank++) {
      const loader = new Loader({ dataset: join(dir, 'raw'), batchSize: 12, augment, seed: 6, workers: 1, slice: { rank, size: 3 } });
      expect(loader.localBatch).toBe(4);
      const part = await collect(loader, 2, 1);
      expect(part.length).toBe(2);
      part.forEach((b, k) => {
        const w = whole[k + 1];
        expect(b.indices).toEqual(w.indices.slice(4 * rank, 4 * rank + 4));
        expect(b.labels).toEqual(w.labels.slice(4 * rank, 4 * rank + 4));
        expect(b.x).toEqual(w.x.slice(4 * rank * sz, (4 * rank + 4) * sz));
      });
      await loader.close();
    }
    expect(() => new Loader({ dataset: set, batchSize: 10, slice: { rank: 0, size: 3 } })).toThrow(/batchSize divisible by 3/);
    expect(() => new Loader({ dataset: set, batchSize: 12, slice: { rank: 3, size: 3 } })).toThrow(/0 <= rank < size/);
    expect(() => new Loader({ dataset: set, batchSize: 12, mode: 'eval', slice: { rank: 0, size: 2 } })).toThrow(/train mode/);
  });

  it('workers, prefetch and the pack encoding do not change the batches; startBatch resumes exactly', async () => {
    const ref = await collect(new Loader({ dataset: set, batchSize: 5, augment, seed: 1, workers: 0 }), 0);
    const packLoader = new Loader({ dataset: join(dir, 'raw'), batchSize: 5, augment, seed: 1, workers: 2, prefetch: 3 });
    expect(await collect(packLoader, 0)).toEqual(ref);
    expect(await collect(packLoader, 0, 4)).toEqual(ref.slice(4));
    expect(packLoader.stats.batches).toBe(ref.length + ref.length - 4);
    await packLoader.close();
    const memLoader = new Loader({ dataset: set, batchSize: 5, augment, seed: 1, workers: 2 });
    expect(await collect(memLoader, 0)).toEqual(ref);
    expect(await collect(memLoader, 1)).not.toEqual(ref);
    await memLoader.close();
    // JPEG pack: same order and labels, pixels close (lossy).
    const jl = new Loader({ dataset: join(dir, 'jpeg'), batchSize: 5, augment, seed: 1, workers: 1 });
    const j = await collect(jl, 0);
    await jl.close();
    expect(j.map((b) => b.indices)).toEqual(ref.map((b) => b.indices));
  });

  it('eval mode: in order, centre crops, keeps the last partial batch', async () => {
    const loader = new Loader({ dataset: join(dir, 'raw'), batchSize: 16, mode: 'eval', augment: { size: 16 }, workers: 1 });
    const got = await collect(loader, 0);
    await loader.close();
    expect(got.map((b) => b.indices.length)).toEqual([16, 16, 5]);
    expect(got.flatMap((b) => b.indices)).toEqual(Array.from({ length: 37 }, (_, i) => i));
    const aug = new Augmenter({ input: [20, 18, 3], size: 16 });
    using ds = PackedDataset.open(join(dir, 'raw'));
    expect(got[2].x).toEqual(aug.apply((i) => ds.pixelsSync(32 + i), aug.center(5)));
  });

  it('prefetches ahead of a slow consumer and reports the time it waited', async () => {
    const loader = new Loader({ dataset: join(dir, 'raw'), batchSize: 4, augment, workers: 1, prefetch: 2 });
    let b: Batch | undefined;
    for await (b of loader.epoch(0)) {
      await new Promise((r) => setTimeout(r, 20)); // training step
      b.release();
    }
    expect(loader.stats.batches).toBe(9);
    expect(loader.stats.readyOnAsk).toBeGreaterThanOrEqual(7);
    expect(loader.stats.waitMs).toBeGreaterThanOrEqual(0);
    expect(loader.stats.workMs).toBeGreaterThan(0);
    await loader.close();
  });

  it('the time training waited is measured: made on demand (workers: 0), all the work is waiting', async () => {
    const big: ImageSet = { images: new Uint8Array(24 * 128 * 128 * 3).fill(77), labels: new Int32Array(24), n: 24, height: 128, width: 128, channels: 3, classes: ['a'] };
    const loader = new Loader({ dataset: big, batchSize: 8, augment: { size: 112, flip: true, lighting: PCA }, workers: 0 });
    for await (const b of loader.epoch(0)) b.release();
    const s = loader.stats;
    expect(s.batches).toBe(3);
    expect(s.images).toBe(24);
    expect(s.workMs).toBeGreaterThan(0);
    expect(s.waitMs).toBeGreaterThanOrEqual(s.workMs * 0.99);
    loader.resetStats();
    expect(loader.stats).toEqual({ batches: 0, images: 0, waitMs: 0, readyOnAsk: 0, workMs: 0 });
    await loader.close();
  });

  it('clear errors for bad options and sources', () => {
    expect(() => new Loader({ dataset: set, batchSize: 0 })).toThrow(/batchSize/);
    expect(() => new Loader({ dataset: join(dir, 'nope'), batchSize: 2 })).toThrow(/no index.json/);
    expect(() => new Loader({ dataset: set, batchSize: 2, augment: { size: 30 } })).toThrow(/does not fit/);
  });
});
