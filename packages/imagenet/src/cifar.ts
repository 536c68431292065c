/**
 * CIFAR-10 / CIFAR-100 binary version: fixed-size records. CIFAR-10: 1 label byte + 3072 pixel bytes;
 * CIFAR-100: 1 coarse + 1 fine label byte + 3072. Pixels are planar (1024 R, 1024 G, 1024 B, rows of 32);
 * we return HWC.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from './errors.js';
import { readBytes } from './idx.js';
import type { ImageSet } from './types.js';

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export interface CifarOptions {
  /** 10 (default) or 100. */
  variant?: 10 | 100;
  /** CIFAR-100 only: which label to return (default 'fine'). */
  label?: 'fine' | 'coarse';
  classes?: string[];
}

const PIXELS = 32 * 32 * 3;

/** Parses one or more concatenated CIFAR binary files' bytes. */
export function parseCifar(bufs: Uint8Array | Uint8Array[], opts: CifarOptions = {}, path?: string): ImageSet {
  const variant = opts.variant ?? 10;
  if (variant !== 10 && variant !== 100) throw new DataError(`CIFAR variant must be 10 or 100, got ${variant}`, path);
  const head = variant === 10 ? 1 : 2;
  const rec = head + PIXELS;
  const list = Array.isArray(bufs) ? bufs : [bufs];
  let n = 0;
  for (const b of list) {
    if (b.length === 0) throw new DataError('empty CIFAR file', path);
    if (b.length % rec !== 0)
      throw new DataError(`CIFAR-${variant} file of ${b.length} bytes is not a whole number of ${rec}-byte records (${Math.floor(b.length / rec)} records + ${b.length % rec} bytes; truncated or the wrong variant?)`, path);
    n += b.length / rec;
  }
  const nClasses = variant === 10 ? 10 : opts.label === 'coarse' ? 20 : 100;
  const classes = opts.classes ?? (variant === 10 ? CIFAR10_CLASSES : Array.from({ length: nClasses }, (_, i) => `class_${i}`));
  if (classes.length !== nClasses) throw new DataError(`CIFAR-${variant} ${opts.label ?? ''} labels need ${nClasses} class names, got ${classes.length}`, path);
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  let i = 0;
  for (const b of list) {
    for (let r = 0; r < b.length; r += rec, i++) {
      const lab = variant === 10 ? b[r] : opts.label === 'coarse' ? b[r] : b[r + 1];
      if (lab >= nClasses) throw new DataError(`record ${i}: label ${lab} is out of range for ${nClasses} classes (wrong variant or corrupt file)`, path);
      labels[i] = lab;
      const o = i * PIXELS, p = r + head;
      for (let k = 0; k < 1024; k++) {
        images[o + 3 * k] = b[p + k];
        images[o + 3 * k + 1] = b[p + 1024 + k];
        images[o + 3 * k + 2] = b[p + 2048 + k];
      }
    }
  }
  return { images, labels, n, height: 32, width: 32, channels: 3, classes };
}

function namesFile(dir: string, file: string): string[] | undefined {
  const p = join(dir, file);
  if (!existsSync(p)) return undefined;
  return readFileSync(p, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
}

/**
 * A CIFAR binary directory: cifar-10-batches-bin (data_batch_1..5.bin, test_batch.bin, batches.meta.txt)
 * or cifar-100-binary (train.bin, test.bin, fine_label_names.txt, coarse_label_names.txt).
 */
export function loadCifar(dir: string, split: 'train' | 'test' = 'train', opts: CifarOptions = {}): ImageSet {
  const variant = opts.variant ?? (existsSync(join(dir, 'train.bin')) || existsSync(join(dir, 'test.bin')) ? 100 : 10);
  const files = variant === 10
    ? split === 'train' ? [1, 2, 3, 4, 5].map((k) => `data_batch_${k}.bin`) : ['test_batch.bin']
    : [`${split}.bin`];
  const paths = files.map((f) => join(dir, f));
  const classes = opts.classes ?? (variant === 10
    ? namesFile(dir, 'batches.meta.txt')
    : namesFile(dir, opts.label === 'coarse' ? 'coarse_label_names.txt' : 'fine_label_names.txt'));
  const bufs = paths.map((p) => readBytes(p));
  return parseCifar(bufs, { ...opts, variant, classes }, paths.length === 1 ? paths[0] : dir);
}
