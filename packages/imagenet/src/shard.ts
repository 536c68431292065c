/**
 * Writing one shard: records appended to a temporary file, then the shard, its statistics and (last, as the
 * commit mark) its JSON sidecar are renamed into place. A shard whose sidecar exists with the same plan hash
 * is complete; anything else is redone. Used by the pack workers and by in-process packing.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tempPath, writeFileAtomic, bytesOf } from './atomic.js';
import { decodeImage, encodeJpeg, type DecodeOptions } from './decode.js';
import { DataError } from './errors.js';
import { PixelStats } from './stats.js';

export interface Skip {
  path: string;
  reason: string;
}

export interface ShardItem {
  /** A file to decode, or the index of an image of an in-memory set. */
  path?: string;
  index?: number;
  label: number;
}

export interface ShardTask {
  shard: number;
  dir: string;
  items: ShardItem[];
  planHash: string;
  encoding: 'raw' | 'jpeg';
  quality: number;
  decode: DecodeOptions;
  shape: [number, number, number];
}

export interface ShardMeta {
  planHash: string;
  count: number;
  bytes: number;
  labels: number[];
  lengths: number[];
  files: string[];
  skipped: Skip[];
}

export const shardName = (i: number) => `shard-${String(i).padStart(5, '0')}`;

/** The sidecar of a complete shard matching planHash, or null. */
export function completedShard(dir: string, shard: number, planHash: string, shape: [number, number, number]): ShardMeta | null {
  const base = join(dir, shardName(shard));
  try {
    if (!existsSync(`${base}.json`)) return null;
    const meta = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as ShardMeta;
    if (!meta || meta.planHash !== planHash) return null;
    // A sidecar that does not describe its shard consistently (edited, or corrupt) means: redo the shard.
    const n = meta.count;
    if (!Number.isInteger(n) || n < 0 || !Array.isArray(meta.labels) || !Array.isArray(meta.lengths) || !Array.isArray(meta.files)
      || !Array.isArray(meta.skipped) || meta.labels.length !== n || meta.lengths.length !== n || meta.files.length !== n
      || !meta.labels.every((l) => Number.isInteger(l) && l >= 0) || !meta.lengths.every((l) => Number.isInteger(l) && l > 0)
      || meta.lengths.reduce((a, l) => a + l, 0) !== meta.bytes) return null;
    if (statSync(`${base}.bin`).size !== meta.bytes) return null;
    const [h, w, c] = shape;
    if (statSync(`${base}.stats`).size !== 8 * (1 + c + c * c + h * w * c)) return null;
    return meta;
  } catch {
    return null;
  }
}

export async function writeShard(
  task: ShardTask,
  image: (item: ShardItem) => Promise<Uint8Array>,
  onItem: (ok: boolean) => void,
): Promise<ShardMeta> {
  const [H, W, C] = task.shape;
  const base = join(task.dir, shardName(task.shard));
  const stats = new PixelStats(H, W, C);
  const meta: ShardMeta = { planHash: task.planHash, count: 0, bytes: 0, labels: [], lengths: [], files: [], skipped: [] };
  const tmp = tempPath(`${base}.bin`);
  const fd = openSync(tmp, 'w');
  try {
    for (const item of task.items) {
      let pixels: Uint8Array;
      try {
        pixels = await image(item);
        if (pixels.length !== H * W * C) throw new DataError(`decoded to ${pixels.length} bytes, expected ${H}×${W}×${C}`, item.path);
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        meta.skipped.push({ path: item.path ?? `#${item.index}`, reason: e.message.startsWith(`${item.path}: `) ? e.message.slice((item.path ?? '').length + 2) : e.message });
        onItem(false);
        continue;
      }
      stats.add(pixels);
      const rec = task.encoding === 'raw' ? pixels : await encodeJpeg({ data: pixels, height: H, width: W, channels: C }, task.quality);
      let off = 0;
      while (off < rec.length) off += writeSync(fd, rec, off, rec.length - off);
      meta.bytes += rec.length;
      meta.count++;
      meta.labels.push(item.label);
      meta.lengths.push(rec.length);
      meta.files.push(item.path ?? `#${item.index}`);
      onItem(true);
    }
    fsyncSync(fd);
    closeSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  renameSync(tmp, `${base}.bin`);
  writeFileAtomic(`${base}.stats`, bytesOf(stats.toArray()));
  writeFileAtomic(`${base}.json`, JSON.stringify(meta));
  return meta;
}

/** The image function for files: decode with sharp to the pack's size. */
export function fileImage(decode: DecodeOptions): (item: ShardItem) => Promise<Uint8Array> {
  return async (item) => (await decodeImage(item.path!, decode)).data;
}
