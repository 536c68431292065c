#!/usr/bin/env node
// Loader throughput: images/s of loading + augmenting 224×224 crops (random crop, flip, PCA lighting,
// per-channel normalisation) from raw and from JPEG shards of 256×256 images, on one core (in-process) and
// with worker threads. Also times `pack` itself. Run after `pnpm build` (uses dist/).
// Each configuration is measured --repeat times (interleaved, so load changes hit all alike); the median and the
// range are printed, then whether the target (>= 600 images/s from raw shards on one core) is met.
//   node bench/loader.mjs [--images 512] [--seconds 3] [--repeat 3]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Loader, pack, PackedDataset, scanImageFolder } from '@convnet/imagenet';

const arg = (name, d) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
const N = arg('images', 512), SECONDS = arg('seconds', 3), REPEAT = arg('repeat', 3);
const TARGET = 600;
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (other jobs share the cores: figures are noisy)`);
const dir = mkdtempSync(join(tmpdir(), 'convnet-bench-'));
try {
  // A tree of N 500×375 JPEGs (ImageNet's typical size) with texture, in 4 classes.
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const cls = join(dir, 'src', `c${i % 4}`);
    mkdirSync(cls, { recursive: true });
    const w = 500, h = 375, b = Buffer.alloc(w * h * 3);
    for (let y = 0, o = 0; y < h; y++)
      for (let x = 0; x < w; x++, o += 3) {
        const n = ((x * 7919 + y * 104729 + i * 31) % 61) - 30;
        b[o] = Math.max(0, Math.min(255, (x * 255) / w + n)); b[o + 1] = Math.max(0, Math.min(255, (y * 255) / h + n)); b[o + 2] = (i * 40 + x + y + n) & 255;
      }
    writeFileSync(join(cls, `${i}.JPEG`), await sharp(b, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer());
  }
  console.log(`generated ${N} 500×375 JPEGs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const list = scanImageFolder(join(dir, 'src'));
  for (const encoding of ['raw', 'jpeg']) {
    const rep = await pack(list, { out: join(dir, encoding), encoding, size: 256, shardSize: 128 });
    console.log(`pack ${encoding.padEnd(4)}: ${(rep.count / rep.seconds).toFixed(0)} images/s (all cores), ${(rep.bytes / rep.count / 1024).toFixed(1)} KiB/image on disk`);
  }
  sharp.concurrency(1); // JPEG decoding on one libvips thread per decode
  const stats = PackedDataset.open(join(dir, 'raw')).stats;
  const augment = { size: 224, flip: true, lighting: { std: 0.1, eigvals: stats.eigvals, eigvecs: stats.eigvecs }, mean: stats.mean, std: stats.std };
  const configs = [['raw', 0], ['raw', 1], ['raw', 2], ['jpeg', 0], ['jpeg', 1], ['jpeg', 2]];
  const runs = configs.map(() => []);
  const waits = configs.map(() => []);
  for (let r = 0; r < REPEAT; r++) {
    for (const [k, [encoding, workers]] of configs.entries()) {
      const loader = new Loader({ dataset: join(dir, encoding), batchSize: 64, augment, workers, seed: 1 });
      // Warm-up: until every batch buffer of the pool has been written once (first writes to fresh memory
      // page-fault: ~0.5 s per 38 MB batch buffer on this loaded VM, a one-off cost that would dominate 3 s).
      let images = 0, epoch = 0, started = 0, warm = Math.max(2, 2 * workers) + 2, deadline = Infinity;
      outer: for (;;) {
        for await (const b of loader.epoch(epoch++)) {
          if (warm > 0) {
            if (--warm === 0) { started = performance.now(); deadline = started + SECONDS * 1000; loader.resetStats(); }
            b.release();
            continue;
          }
          images += b.n;
          b.release();
          if (performance.now() > deadline) break outer;
        }
      }
      runs[k].push(images / ((performance.now() - started) / 1000));
      waits[k].push(loader.stats.waitMs / loader.stats.batches);
      await loader.close();
    }
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log(`\nloading + augmenting 224×224 crops (crop, flip, PCA lighting, normalise), batches of 64; ${REPEAT} runs of ${SECONDS} s each:`);
  console.log('shards where                    median images/s   min – max        training waited (median ms/batch)');
  configs.forEach(([encoding, workers], k) => {
    const where = workers === 0 ? 'in-process (1 core)' : `${workers} worker${workers > 1 ? 's' : ''}`;
    const lo = Math.min(...runs[k]), hi = Math.max(...runs[k]);
    console.log(`${encoding.padEnd(6)} ${where.padEnd(20)} ${median(runs[k]).toFixed(0).padStart(10)}   ${lo.toFixed(0).padStart(6)} – ${hi.toFixed(0).padEnd(6)}   ${median(waits[k]).toFixed(1).padStart(8)}`);
  });
  const oneCore = median(runs[0]);
  console.log(`\ntarget: >= ${TARGET} images/s from raw shards on one core: ${oneCore >= TARGET ? 'met' : 'NOT met'} (median ${oneCore.toFixed(0)}, slowest run ${Math.min(...runs[0]).toFixed(0)})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
