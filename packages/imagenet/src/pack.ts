/**
 * `pack`: a dataset (image files or an in-memory image set) → shard files + an index with labels, class
 * names and training statistics. Files are decoded once here (sharp), so training only crops/flips bytes.
 *
 * Output directory:
 *   shard-NNNNN.bin    records back to back (raw: H·W·C bytes each; jpeg: one JPEG file each)
 *   shard-NNNNN.json   per-shard sidecar (plan hash, labels, record lengths, files, skipped) — commit mark
 *   shard-NNNNN.stats  per-shard statistics sums (float64)
 *   labels.i32         label per record (int32 little-endian)
 *   records.u32        [shard, byte offset, byte length] per record (uint32 little-endian)
 *   mean.f32           mean image, H×W×C float32, byte units
 *   files.txt          source of each record, one per line
 *   report.json        counts, skipped files with reasons, timings
 *   index.json         written last: format, shape, encoding, classes, shards, statistics
 * Every file is written under a temporary name and renamed. Re-running with the same source and options
 * keeps every shard whose sidecar matches and redoes the rest.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { bytesOf, writeFileAtomic } from './atomic.js';
import type { DecodeOptions } from './decode.js';
import { DataError } from './errors.js';
import { completedShard, shardName, writeShard, fileImage, type ShardItem, type ShardMeta, type ShardTask, type Skip } from './shard.js';
import { PixelStats, type DatasetStats } from './stats.js';
import type { FileList, ImageSet } from './types.js';
import { workerUrl } from './workers.js';

export const PACK_FORMAT = 'convnet-pack';
export const PACK_VERSION = 1;

export interface PackOptions extends DecodeOptions {
  /** Output directory (created). */
  out: string;
  /** 'raw' (default): uint8 pixels, largest, fastest to read. 'jpeg': re-encoded, ~10× smaller, decoded per read. */
  encoding?: 'raw' | 'jpeg';
  /** JPEG quality (default 90). */
  quality?: number;
  /** Images per shard (default 1024). */
  shardSize?: number;
  /** Worker threads (default: all cores); 0 packs in this thread. */
  workers?: number;
  onProgress?: (p: PackProgress) => void;
}

export interface PackProgress {
  /** Images handled (packed + skipped), including those of shards kept from an earlier run. */
  done: number;
  total: number;
  packed: number;
  skipped: number;
  shardsDone: number;
  shards: number;
  elapsedMs: number;
}

export interface PackIndex {
  format: typeof PACK_FORMAT;
  version: number;
  encoding: 'raw' | 'jpeg';
  height: number;
  width: number;
  channels: number;
  count: number;
  classes: string[];
  classNames: string[] | null;
  shards: { file: string; count: number; bytes: number }[];
  labels: string;
  records: string;
  meanImage: string;
  files: string;
  stats: DatasetStats;
  skipped: number;
  options: { size: number; crop: number; quality: number | null; kernel: string; source: string };
}

export interface PackReport {
  out: string;
  count: number;
  skipped: Skip[];
  shards: number;
  /** Shards kept from an earlier run. */
  resumedShards: number;
  bytes: number;
  seconds: number;
  index: PackIndex;
}

function isImageSet(s: FileList | ImageSet): s is ImageSet {
  return (s as ImageSet).images instanceof Uint8Array;
}

/** size:mtime of a source file ('missing' when it cannot be stat'ed; decoding then reports it). */
function fileStamp(path: string): string {
  try {
    const st = statSync(path);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

export async function pack(source: FileList | ImageSet, opts: PackOptions): Promise<PackReport> {
  const t0 = performance.now();
  const encoding = opts.encoding ?? 'raw';
  if (encoding !== 'raw' && encoding !== 'jpeg') throw new DataError(`pack: encoding must be 'raw' or 'jpeg', got '${encoding}'`);
  const quality = opts.quality ?? 90;
  const shardSize = opts.shardSize ?? 1024;
  if (!Number.isInteger(shardSize) || shardSize < 1) throw new DataError(`pack: shardSize must be a positive integer, got ${shardSize}`);
  const mem = isImageSet(source);
  const size = mem ? source.height : opts.size ?? 256;
  const crop = mem ? source.height : opts.crop === false ? size : opts.crop ?? size;
  const shape: [number, number, number] = mem ? [source.height, source.width, source.channels] : [crop, crop, opts.channels ?? 3];
  if (shape[0] * shape[1] * shape[2] * shardSize >= 2 ** 32) throw new DataError(`pack: shards of ${shardSize} ${shape.join('×')} images would pass 4 GiB; lower shardSize`);
  const decode: DecodeOptions = { size, crop, channels: shape[2] as 1 | 3, failOn: opts.failOn, kernel: opts.kernel };
  const items: ShardItem[] = mem
    ? Array.from(source.labels, (label, index) => ({ index, label }))
    : source.samples.map((s) => ({ path: s.path, label: s.label }));
  if (items.length === 0) throw new DataError('pack: the dataset has no images');
  if (mem && source.images.length !== source.n * shape[0] * shape[1] * shape[2]) throw new DataError('pack: image set bytes do not match n × height × width × channels');

  mkdirSync(opts.out, { recursive: true });
  for (const f of readdirSync(opts.out)) if (f.startsWith('.') && f.endsWith('.tmp')) rmSync(join(opts.out, f), { force: true });

  const optionKey = JSON.stringify({ encoding, quality: encoding === 'jpeg' ? quality : null, decode, shape, mem });
  const tasks: ShardTask[] = [];
  for (let s = 0; s * shardSize < items.length; s++) {
    const part = items.slice(s * shardSize, (s + 1) * shardSize);
    const h = createHash('sha256').update(optionKey);
    // a file's size and mtime are part of the plan: a shard whose images changed since it was packed is redone
    // (one stat per image, a few seconds for ILSVRC-2012's 1.28 M files; contents are not hashed)
    for (const it of part) h.update(`${it.path ?? it.index}\0${it.label}\0${it.path === undefined ? '' : fileStamp(it.path)}\n`);
    tasks.push({ shard: s, dir: opts.out, items: part, planHash: h.digest('hex'), encoding, quality, decode, shape });
  }
  const metas: (ShardMeta | null)[] = tasks.map((t) => completedShard(opts.out, t.shard, t.planHash, shape));
  const resumed = metas.filter(Boolean).length;
  const progress: PackProgress = { done: 0, total: items.length, packed: 0, skipped: 0, shardsDone: resumed, shards: tasks.length, elapsedMs: 0 };
  for (const m of metas) if (m) { progress.done += m.count + m.skipped.length; progress.packed += m.count; progress.skipped += m.skipped.length; }
  const report = (ok: boolean) => {
    progress.done++;
    if (ok) progress.packed++; else progress.skipped++;
    progress.elapsedMs = performance.now() - t0;
    opts.onProgress?.({ ...progress });
  };
  const todo = tasks.filter((_, i) => !metas[i]);
  const nWorkers = Math.min(opts.workers ?? availableParallelism(), todo.length);
  if (mem || nWorkers === 0) {
    const img = mem
      ? async (it: ShardItem) => { const n = shape[0] * shape[1] * shape[2]; return source.images.subarray(it.index! * n, (it.index! + 1) * n); }
      : fileImage(decode);
    for (const t of todo) {
      metas[t.shard] = await writeShard(t, img, report);
      progress.shardsDone++;
    }
  } else {
    await runWorkers(todo, nWorkers, (shard, meta) => { metas[shard] = meta; progress.shardsDone++; }, report);
  }
  return finish(opts.out, source, metas as ShardMeta[], tasks, shape, encoding, quality, decode, resumed, t0);
}

async function runWorkers(todo: ShardTask[], n: number, onDone: (shard: number, meta: ShardMeta) => void, onItem: (ok: boolean) => void): Promise<void> {
  // libvips threads are process-wide: one per worker keeps the cores busy without oversubscription.
  const prevConcurrency = sharp.concurrency();
  sharp.concurrency(1);
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0, running = 0, failed = false;
      const feed = (w: Worker) => {
        if (failed) return;
        if (next < todo.length) { running++; w.postMessage(todo[next++]); }
        else if (running === 0) resolve();
      };
      for (let i = 0; i < n; i++) {
        const w = new Worker(workerUrl('pack-worker'));
        workers.push(w);
        w.on('message', (m: { type: string; ok?: boolean; shard?: number; meta?: ShardMeta; message?: string }) => {
          if (m.type === 'item') onItem(m.ok!);
          else if (m.type === 'done') { running--; onDone(m.shard!, m.meta!); feed(w); if (next >= todo.length && running === 0) resolve(); }
          else if (m.type === 'error') { failed = true; reject(new Error(`pack: shard ${m.shard} failed: ${m.message}`)); }
        });
        w.on('error', (e) => { failed = true; reject(e); });
        w.on('exit', (code) => { if (code !== 0 && !failed) { failed = true; reject(new Error(`pack: a worker exited with code ${code}`)); } });
        feed(w);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    sharp.concurrency(prevConcurrency);
  }
}

function finish(
  out: string, source: FileList | ImageSet, metas: ShardMeta[], tasks: ShardTask[], shape: [number, number, number],
  encoding: 'raw' | 'jpeg', quality: number, decode: DecodeOptions, resumed: number, t0: number,
): PackReport {
  const [H, W, C] = shape;
  const count = metas.reduce((a, m) => a + m.count, 0);
  const labels = new Int32Array(count);
  const records = new Uint32Array(3 * count);
  const files: string[] = [];
  const skipped: Skip[] = [];
  const stats = new PixelStats(H, W, C);
  let r = 0, bytes = 0;
  metas.forEach((m, s) => {
    let off = 0;
    for (let k = 0; k < m.count; k++, r++) {
      labels[r] = m.labels[k];
      records[3 * r] = s; records[3 * r + 1] = off; records[3 * r + 2] = m.lengths[k];
      off += m.lengths[k];
    }
    files.push(...m.files);
    skipped.push(...m.skipped);
    bytes += m.bytes;
    const a = readFileSync(join(out, `${shardName(s)}.stats`));
    stats.merge(PixelStats.fromArray(new Float64Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)), H, W, C));
  });
  if (count === 0) throw new DataError(`pack: none of the ${skipped.length} images could be decoded (first: ${skipped[0]?.path}: ${skipped[0]?.reason})`, out);
  const mem = isImageSet(source);
  const index: PackIndex = {
    format: PACK_FORMAT, version: PACK_VERSION, encoding, height: H, width: W, channels: C, count,
    classes: source.classes, classNames: source.classNames ?? null,
    shards: metas.map((m, s) => ({ file: `${shardName(s)}.bin`, count: m.count, bytes: m.bytes })),
    labels: 'labels.i32', records: 'records.u32', meanImage: 'mean.f32', files: 'files.txt',
    stats: stats.finish(), skipped: skipped.length,
    options: { size: decode.size!, crop: (decode.crop as number) ?? decode.size!, quality: encoding === 'jpeg' ? quality : null, kernel: decode.kernel ?? 'lanczos3', source: mem ? 'memory' : (source as FileList).root },
  };
  writeFileAtomic(join(out, 'labels.i32'), bytesOf(labels));
  writeFileAtomic(join(out, 'records.u32'), bytesOf(records));
  writeFileAtomic(join(out, 'mean.f32'), bytesOf(stats.meanImage()));
  writeFileAtomic(join(out, 'files.txt'), files.join('\n') + '\n');
  const seconds = (performance.now() - t0) / 1000;
  writeFileAtomic(join(out, 'report.json'), JSON.stringify({ count, skipped, shards: tasks.length, resumedShards: resumed, bytes, seconds }, null, 1));
  writeFileAtomic(join(out, 'index.json'), JSON.stringify(index, null, 1));
  return { out, count, skipped, shards: tasks.length, resumedShards: resumed, bytes, seconds, index };
}
