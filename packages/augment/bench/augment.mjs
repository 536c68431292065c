#!/usr/bin/env node
// Fused augmentation throughput on one thread: 256×256×3 uint8 → 224×224 float32 CHW crops with flip,
// PCA lighting and per-channel normalisation (or mean-image subtraction). Run after `pnpm build`.
import { Rng } from '@convnet/tensor';
import { Augmenter } from '@convnet/augment';

const N = 64, S = 256, OUT = 224, secs = Number(process.env.BENCH_SECONDS ?? 2);
const rng = new Rng(1);
const images = Array.from({ length: N }, () => Uint8Array.from(rng.words(S * S * 3), (w) => w & 255));
const pca = { eigvals: [0.2175, 0.0188, 0.0045], eigvecs: [[-0.5675, -0.5808, -0.5836], [0.7192, -0.0045, -0.6948], [0.4009, -0.814, 0.4203]] };
const meanImage = new Float32Array(S * S * 3).fill(120);
const configs = {
  'crop+flip+lighting+normalise': { input: [S, S, 3], size: OUT, flip: true, lighting: pca, mean: [124, 116, 104], std: [58, 57, 57] },
  'crop+flip+lighting+mean image': { input: [S, S, 3], size: OUT, flip: true, lighting: pca, meanImage },
  'centre crop+normalise': { input: [S, S, 3], size: OUT, mean: [124, 116, 104], std: [58, 57, 57] },
};
for (const [name, cfg] of Object.entries(configs)) {
  const aug = new Augmenter(cfg);
  const B = 32;
  const out = aug.allocate(B);
  const r = new Rng(2);
  let n = 0;
  const run = () => aug.apply((i) => images[(n + i) % N], name.startsWith('centre') ? aug.center(B) : aug.draw(r, B), out);
  for (let i = 0; i < 5; i++) run();
  const t0 = performance.now();
  while (performance.now() - t0 < secs * 1000) { run(); n += B; }
  const dt = (performance.now() - t0) / 1000;
  console.log(`${name.padEnd(32)} ${(n / dt).toFixed(0).padStart(6)} images/s  (${((dt / n) * 1e3).toFixed(3)} ms/image, 1 thread)`);
}
