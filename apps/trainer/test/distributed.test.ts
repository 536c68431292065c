// The trainer's data-parallel glue without a launcher: rank slices of every global batch (data and
// augmentation) laid side by side are the one-process batch, bit for bit; argument errors.
import { describe, expect, it } from 'vitest';
import { SingleProcessGroup, type ProcessGroup } from '@convnet/distributed';
import { Tensor } from '@convnet/tensor';
import { BASE_CONFIG, UsageError, type TrainConfig } from '../src/config.js';
import { syntheticDataset } from '../src/data.js';
import { Distributed, initDistributed, localDeviceIndex } from '../src/distributed.js';
import { memorySource, type Geometry, type Source } from '../src/source.js';
import { formatStats } from '../src/progress.js';

/** A process group that only knows its rank: its collectives leave buffers as they are (one process plays each rank). */
const fakeRank = (rank: number, size: number): ProcessGroup => {
  const g = new SingleProcessGroup();
  return { backend: 'fake', rank, size, host: g.host, allreduce: () => {}, allreduceAsync: (b) => g.allreduceAsync(b), broadcast: () => {}, barrier: () => {}, stats: () => g.stats(), close: () => {} };
};

async function batches(src: Source, B: number, geom: Geometry, epoch: number, start: number, steps: number, globalStep: number) {
  const x = Tensor.zeros([B, 1, geom.crop, geom.crop]);
  const labels = new Int32Array(B);
  const out: { x: number[]; labels: number[] }[] = [];
  for await (const _ of src.trainBatches(epoch, start, steps, globalStep, x, labels)) out.push({ x: Array.from(x.data), labels: Array.from(labels) });
  await src.close();
  return out;
}

describe('Distributed.shard', () => {
  const cfg: TrainConfig = { ...BASE_CONFIG, data: 'synthetic', batchSize: 12, flip: true, cropPadding: 2, crop: 28 };
  const geom: Geometry = { crop: 28, pad: 2 };
  const ds = syntheticDataset([1, 28, 28], 10, 120, 3);

  // the Loader makes each rank's slice (worker threads: workers 1 in cfg), with the whole batch's draws
  for (const size of [2, 3]) {
    it(`${size} ranks' slices of each batch (order, crops, flips) are the 1-process batch`, async () => {
      const whole = await batches(memorySource(ds, geom, cfg), 12, geom, 2, 3, 6, 40);
      const parts = await Promise.all(Array.from({ length: size }, (_, r) =>
        batches(new Distributed(fakeRank(r, size), 12).shard(memorySource(ds, geom, cfg)), 12 / size, geom, 2, 3, 6, 40)));
      expect(whole.length).toBe(3);
      for (let s = 0; s < whole.length; s++) {
        expect(parts.flatMap((p) => p[s].labels)).toEqual(whole[s].labels);
        expect(parts.flatMap((p) => p[s].x)).toEqual(whole[s].x);
      }
    });
  }

  it('evaluation: the ranks\' test batches together are the whole test set, each image once', async () => {
    const n = 30, batch = 8;
    const whole: number[] = [];
    const one = memorySource(ds, geom, cfg);
    for await (const b of one.testBatches(n, batch)) whole.push(...b.x.data.subarray(0, b.labels.length * 784).filter((_, i) => i % 97 === 0));
    await one.close();
    const got: number[][] = [];
    for (let r = 0; r < 3; r++) {
      const part: number[][] = [];
      const src = new Distributed(fakeRank(r, 3), 12).shard(memorySource(ds, geom, cfg));
      for await (const b of src.testBatches(n, batch)) part.push(Array.from(b.x.data).filter((_, i) => i % 97 === 0));
      await src.close();
      got.push(...part.map((p, k) => [r + 3 * k, ...p]));
    }
    got.sort((a, b) => a[0] - b[0]);
    expect(got.flatMap((g) => g.slice(1))).toEqual(whole);
  });

  it('a batch size that the ranks cannot share is a usage error naming the flag', () => {
    expect(() => new Distributed(fakeRank(0, 3), 128)).toThrow(UsageError);
    expect(() => new Distributed(fakeRank(0, 3), 128)).toThrow('--batch-size 128 must be divisible by the number of ranks (3)');
  });

  it('alone (no launcher): one rank, the source unchanged, step metrics unchanged', () => {
    const d = initDistributed(cfg, { backend: 'single' });
    expect([d.rank, d.size, d.isRoot, d.localBatch]).toEqual([0, 1, true, 12]);
    const src = memorySource(ds, geom, cfg);
    expect(d.shard(src)).toBe(src);
    expect(d.reduceStep({ loss: 1.5, top1Hits: 3, top5Hits: 7 }, false)).toEqual({ loss: 1.5, top1Hits: 3, top5Hits: 7, interrupted: false });
  });
});

describe('progress line', () => {
  it('shows the communication wait next to the data wait in data-parallel runs only', () => {
    const p = { epoch: 1, epochs: 2, step: 3, steps: 9, loss: 1, top1Err: 0.5, top5Err: 0.1, imagesPerSec: 100, dataWaitShare: 0.1, etaSec: 60 };
    expect(formatStats(p)).toContain('data wait 10%  ETA 1:00');
    expect(formatStats({ ...p, commWaitShare: 0.034 })).toContain('data wait 10%  comm wait 3%  ETA 1:00');
  });
});

describe('--device cuda under mpirun', () => {
  it("each rank takes its local rank's device, modulo the host's device count; alone, device 0", () => {
    const env = (r?: string) => (r === undefined ? {} : { OMPI_COMM_WORLD_LOCAL_RANK: r });
    expect([0, 1, 2, 3, 4].map((r) => localDeviceIndex(4, env(String(r))))).toEqual([0, 1, 2, 3, 0]);
    expect([0, 1, 2].map((r) => localDeviceIndex(2, env(String(r))))).toEqual([0, 1, 0]);
    expect(localDeviceIndex(8, env())).toBe(0);
    expect(localDeviceIndex(0, env('3'))).toBe(0);  // no device: cudaUnavailableReason reports it before this matters
    expect(localDeviceIndex(2, env('x'))).toBe(0);
  });
});
