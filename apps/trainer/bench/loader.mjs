#!/usr/bin/env node
// The data loader's images/s as training sees it, in a process of its own, for `pnpm bench`: 224×224 random crops,
// flips, PCA lighting and per-channel normalisation from a raw packed dataset of 256×256 images (what
// `convnet pack` writes), batch 128, worker threads. Prints one JSON line.
//   node apps/trainer/bench/loader.mjs [--images N] [--seconds S] [--workers W]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Loader, PackedDataset, pack } from '@convnet/imagenet';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? Number(args[args.indexOf(k) + 1]) : d);
const N = opt('--images', 512), seconds = opt('--seconds', 3), workers = opt('--workers', 2);
const dir = mkdtempSync(join(tmpdir(), 'convnet-bench-loader-'));
try {
  // N textured 256×256 RGB images in 8 classes, packed raw (as decoded JPEGs would be).
  const S = 256, images = new Uint8Array(N * S * S * 3);
  for (let i = 0, o = 0; i < N; i++)
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++, o += 3) {
        const n = ((x * 7919 + y * 104729 + i * 31) % 61) - 30;
        images[o] = Math.max(0, Math.min(255, x + n)); images[o + 1] = Math.max(0, Math.min(255, y + n)); images[o + 2] = (i * 40 + x + y + n) & 255;
      }
  const set = { images, labels: Int32Array.from({ length: N }, (_, i) => i % 8), n: N, height: S, width: S, channels: 3, classes: Array.from({ length: 8 }, (_, i) => `c${i}`) };
  await pack(set, { out: join(dir, 'raw'), encoding: 'raw', shardSize: 256, workers: 0 });
  const stats = PackedDataset.open(join(dir, 'raw')).stats;
  const augment = { size: 224, flip: true, lighting: { std: 0.1, eigvals: stats.eigvals, eigvecs: stats.eigvecs }, mean: stats.mean, std: stats.std };
  const loader = new Loader({ dataset: join(dir, 'raw'), batchSize: 128, augment, workers, seed: 1 });
  let count = 0, started = 0, epoch = 0, deadline = Infinity;
  outer: for (;;) {
    for await (const b of loader.epoch(epoch++)) {
      if (!started) { started = performance.now(); deadline = started + seconds * 1000; b.release(); continue; } // first batch: warm-up (workers start)
      count += b.n;
      b.release();
      if (performance.now() > deadline) break outer;
    }
  }
  const s = (performance.now() - started) / 1000;
  await loader.close();
  console.log(JSON.stringify({ workload: 'loader', workers, imagesPerSec: count / s, images: count, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
