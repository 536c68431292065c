/**
 * Image trees and packed datasets for the trainer.
 *
 * A "packed dataset" is a directory with one pack per split, `train/` and `val/`, as `convnet pack` writes
 * them (@convnet/imagenet's format: shards + index.json with labels, class names and statistics). `--data`
 * accepts such a directory, or an image tree with `train/` and `val/` folders (ImageFolder class folders,
 * or ILSVRC-2012 as downloaded), which is packed once into a cache directory and reused (packing resumes
 * and skips finished shards, so a second run only re-scans the file names).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import {
  DataError, ilsvrcDataDir, pack, scanIlsvrc, scanImageFolder, type FileList, type IlsvrcOptions, type PackProgress, type PackReport,
} from '@convnet/imagenet';
import { UsageError } from './config.js';

export interface PackCommandOptions {
  /** Shorter side after resizing and side of the stored centre square (default 256, the paper's). */
  size?: number;
  encoding?: 'raw' | 'jpeg';
  quality?: number;
  workers?: number;
  shardSize?: number;
  channels?: 1 | 3;
  ilsvrc?: IlsvrcOptions;
  onProgress?: (split: string, p: PackProgress) => void;
  /** The tree's file lists when already scanned (scanTree). */
  lists?: { train: FileList; val: FileList };
}

const WNID = /^n\d{8}$/;

function isDir(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

/** The split folders of `dir` that hold shards of a pack that never finished (no index.json yet). */
export function unfinishedPack(dir: string): string[] {
  return ['train', 'val'].filter((s) => {
    const d = join(dir, s);
    return isDir(d) && !existsSync(join(d, 'index.json')) && readdirSync(d).some((f) => /^shard-\d+\.(bin|json)$/.test(f));
  });
}

/** True when `dir` holds a packed dataset (train/index.json and val/index.json). */
export function isPackedDataset(dir: string): boolean {
  return existsSync(join(dir, 'train', 'index.json')) && existsSync(join(dir, 'val', 'index.json'));
}

/** True when `dir` is an image tree the trainer can pack: train/ (+ val/) folders, or the Kaggle ILSVRC layout. */
export function isImageTree(dir: string): boolean {
  try {
    ilsvrcDataDir(dir);
    return true;
  } catch {
    return false;
  }
}

/** The train and val file lists of an image tree (ImageFolder with train/ and val/, or ILSVRC-2012). */
export function scanTree(root: string, ilsvrc: IlsvrcOptions = {}): { train: FileList; val: FileList } {
  let data: string;
  try {
    data = ilsvrcDataDir(root);
  } catch {
    throw new UsageError(`--data: ${root} has no train/ and val/ folders (expected <dir>/train/<class>/<images> and <dir>/val/...)`);
  }
  if (!isDir(join(data, 'train'))) throw new UsageError(`--data: ${data} has no train/ folder`);
  if (!isDir(join(data, 'val'))) throw new UsageError(`--data: ${data} has no val/ folder (training reports validation error every epoch)`);
  const trainDirs = readdirSync(join(data, 'train')).filter((d) => !d.startsWith('.') && isDir(join(data, 'train', d)));
  try {
    if (trainDirs.length > 0 && trainDirs.every((d) => WNID.test(d))) {
      // ILSVRC: wnid folders; val may be flat with a label file
      return { train: scanIlsvrc(root, 'train', ilsvrc), val: scanIlsvrc(root, 'val', ilsvrc) };
    }
    const train = scanImageFolder(join(data, 'train'));
    return { train, val: scanImageFolder(join(data, 'val'), { classes: train.classes }) };
  } catch (e) {
    if (e instanceof DataError) throw new UsageError(`--data: ${e.message}`);
    throw e;
  }
}

/** Packs both splits of an image tree into out/train and out/val. */
export async function packTree(root: string, out: string, o: PackCommandOptions = {}): Promise<{ train: PackReport; val: PackReport }> {
  const lists = o.lists ?? scanTree(root, o.ilsvrc);
  // files.txt holds one source name per line: a name with a line break would shift every name after it
  const odd = [...lists.train.samples, ...lists.val.samples].filter((s) => /[\n\r]/.test(s.path));
  if (odd.length)
    throw new UsageError(`${JSON.stringify(odd[0].path)}${odd.length > 1 ? ` and ${odd.length - 1} more` : ''}: file names with a line break cannot be packed (files.txt lists one name per line); rename ${odd.length > 1 ? 'them' : 'it'}`);
  const { train, val } = lists;
  if (train.samples.length === 0) throw new UsageError(`--data: ${root}: no images in train/`);
  if (val.samples.length === 0) throw new UsageError(`--data: ${root}: no images in val/`);
  const common = {
    size: o.size ?? 256, encoding: o.encoding, quality: o.quality, workers: o.workers, shardSize: o.shardSize, channels: o.channels,
  };
  const run = (list: FileList, split: string) =>
    pack(list, { ...common, out: join(out, split), onProgress: o.onProgress && ((p) => o.onProgress!(split, p)) });
  const t = await run(train, 'train');
  const v = await run(val, 'val');
  return { train: t, val: v };
}

/** Where `--data <image tree>` is packed: $CONVNET_CACHE/packs (default ~/.cache/convnet/packs)/<name>-<hash>-<size>. */
export function cacheDirFor(root: string, size: number, channels: number): string {
  const base = process.env.CONVNET_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'convnet');
  const abs = resolve(root);
  const h = createHash('sha1').update(abs).digest('hex').slice(0, 10);
  return join(base, 'packs', `${basename(abs).replace(/[^\w.-]/g, '_')}-${h}-${size}px-${channels}c`);
}

/** One progress line for packing (a bar when stderr is a terminal). */
export function packProgressPrinter(stream: NodeJS.WriteStream = process.stderr): (split: string, p: PackProgress) => void {
  let last = 0;
  return (split, p) => {
    const now = performance.now();
    if (p.done < p.total && now - last < (stream.isTTY ? 200 : 5000)) return;
    last = now;
    const rate = p.elapsedMs > 0 ? (p.done / p.elapsedMs) * 1000 : 0;
    const line = `packing ${split}: ${p.done}/${p.total} images (${p.skipped} skipped), shard ${p.shardsDone}/${p.shards}, ${rate.toFixed(0)} img/s`;
    if (stream.isTTY) stream.write(`\r${line}\x1b[K${p.done === p.total ? '\n' : ''}`);
    else stream.write(`${line}\n`);
  };
}

export function summarizePack(r: { train: PackReport; val: PackReport }): string {
  const one = (s: string, p: PackReport) => {
    const skipped = p.skipped.length ? `; ${p.skipped.length} skipped (listed in ${join(p.out, 'report.json')}): ${p.skipped.slice(0, 3).map((k) => `${basename(k.path)}: ${k.reason}`).join('; ')}${p.skipped.length > 3 ? '; ...' : ''}` : '';
    return `${s}: ${p.count} images, ${p.index.classes.length} classes, ${p.index.height}×${p.index.width}×${p.index.channels} ${p.index.encoding}, ${(p.bytes / 2 ** 20).toFixed(1)} MiB in ${p.shards} shard${p.shards > 1 ? 's' : ''}${p.resumedShards ? ` (${p.resumedShards} kept from an earlier run)` : ''}, ${p.seconds.toFixed(1)} s${skipped}`;
  };
  return `${one('train', r.train)}\n${one('val', r.val)}`;
}
