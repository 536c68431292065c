/**
 * Reading a pack: the index and its side files are checked once on open (sizes, offsets, label range), so a
 * corrupt or truncated pack fails with a clear error before training starts; records are then read by
 * positional reads (no whole-shard loads), raw records synchronously, JPEG records decoded with sharp.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '@convnet/tensor';
import type { ImageU8 } from '@convnet/augment';
import { DataError } from './errors.js';
import { ilsvrc2012ClassNames } from './ilsvrc2012.js';
import { PACK_FORMAT, PACK_VERSION, type PackIndex } from './pack.js';
import type { DatasetStats } from './stats.js';

function readSide(dir: string, file: unknown, what: string, bytesPer: number, count: number): Uint8Array {
  if (typeof file !== 'string' || file.includes('/') || file.includes('\\') || file.startsWith('.'))
    throw new DataError(`index.json: '${what}' must be a file name in the pack directory, got ${JSON.stringify(file)}`, dir);
  const p = join(dir, file);
  let b: Buffer;
  try {
    // the size first: a side file of the wrong size (or a FIFO, which would block) is refused before it is read
    const st = statSync(p);
    if (!st.isFile()) throw new DataError(`${what} file is not a regular file`, p);
    if (st.size !== bytesPer * count) throw new DataError(`${what} file has ${st.size} bytes, expected ${bytesPer} × ${count} = ${bytesPer * count} (truncated or from another pack?)`, p);
    b = readFileSync(p);
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, p);
  }
  if (b.length !== bytesPer * count) throw new DataError(`${what} file has ${b.length} bytes, expected ${bytesPer} × ${count} = ${bytesPer * count} (truncated or from another pack?)`, p);
  // Copy into a fresh aligned buffer so typed views of any width work.
  return new Uint8Array(b);
}

const isInt = (v: unknown, min = 0): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;

/** Parses and checks index.json's text (structure only; side files are checked by PackedDataset.open). */
export function parsePackIndex(text: string, path?: string): PackIndex {
  let j: PackIndex;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new DataError(`not valid JSON (${(e as Error).message.replace(/\s*\n\s*/g, ' ')})`, path);
  }
  const bad = (m: string): never => { throw new DataError(m, path); };
  if (!j || typeof j !== 'object') bad('expected a JSON object');
  if (j.format !== PACK_FORMAT) bad(`not a convnet pack index (format ${JSON.stringify(j.format)})`);
  if (j.version !== PACK_VERSION) bad(`pack version ${JSON.stringify(j.version)} is not supported (this reader reads ${PACK_VERSION})`);
  if (j.encoding !== 'raw' && j.encoding !== 'jpeg') bad(`encoding ${JSON.stringify(j.encoding)} is not 'raw' or 'jpeg'`);
  if (!isInt(j.height, 1) || !isInt(j.width, 1) || !isInt(j.channels, 1) || j.channels > 4) bad(`bad image shape ${j.height}×${j.width}×${j.channels}`);
  if (!isInt(j.count, 1)) bad(`bad record count ${JSON.stringify(j.count)}`);
  if (!Array.isArray(j.classes) || j.classes.length === 0 || !j.classes.every((c) => typeof c === 'string')) bad('classes must be a non-empty list of strings');
  if (j.classNames != null && (!Array.isArray(j.classNames) || j.classNames.length !== j.classes.length || !j.classNames.every((c) => typeof c === 'string')))
    bad('classNames must be null or one string per class');
  if (!Array.isArray(j.shards) || j.shards.length === 0) bad('no shards listed');
  let total = 0;
  for (const [i, s] of j.shards.entries()) {
    if (!s || typeof s.file !== 'string' || !/^[\w.-]+$/.test(s.file) || s.file.startsWith('.') || !isInt(s.count) || !isInt(s.bytes))
      bad(`shard ${i}: expected {file, count, bytes}, got ${JSON.stringify(s).slice(0, 80)}`);
    total += s.count;
  }
  if (total !== j.count) bad(`shards hold ${total} records, the index says ${j.count}`);
  const st = j.stats as DatasetStats;
  const C = j.channels;
  const vec = (v: unknown) => Array.isArray(v) && v.length === C && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!st || !vec(st.mean) || !vec(st.std) || !vec(st.eigvals) || !Array.isArray(st.eigvecs) || !st.eigvecs.every(vec) || st.eigvecs.length !== C)
    bad('stats must hold mean, std, eigvals and eigvecs for each channel');
  return j;
}

export interface EpochOrderOptions {
  seed: number;
  epoch: number;
}

/** Rng stream of epoch e's shuffle (seed, ORDER_STREAM + e). */
export const ORDER_STREAM = 1 << 20;
/** Rng stream of epoch e's augmentation (seed, AUGMENT_STREAM + e); batch b starts at counter b·batchSize·8. */
export const AUGMENT_STREAM = 2 << 20;

/** The shuffled order of epoch `epoch`: a pure function of (n, seed, epoch). */
export function epochOrder(n: number, seed: number, epoch: number): Int32Array {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch >= 1 << 20) throw new RangeError(`epochOrder: epoch must be an integer in [0, 2^20), got ${epoch}`);
  return new Rng(seed, ORDER_STREAM + epoch).permutation(n);
}

export class PackedDataset {
  readonly index: PackIndex;
  readonly labels: Int32Array;
  /** [shard, offset, length] per record. */
  readonly records: Uint32Array;
  private readonly fds: (number | null)[];

  private constructor(readonly dir: string, index: PackIndex, labels: Int32Array, records: Uint32Array) {
    this.index = index;
    this.labels = labels;
    this.records = records;
    this.fds = index.shards.map(() => null);
  }

  /** Opens a pack directory, checking every side file against the index. */
  static open(dir: string): PackedDataset {
    const ip = join(dir, 'index.json');
    let text: string;
    try {
      // an index is a few KB per shard: a FIFO, a device or a file over 64 MiB is not one
      const st = statSync(ip);
      if (!st.isFile() || st.size > 64 << 20) throw new DataError(st.isFile() ? `is ${st.size} bytes, over the 64 MiB an index may have` : 'is not a regular file', ip);
      text = readFileSync(ip, 'utf8');
    } catch (e) {
      if (e instanceof DataError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      throw new DataError(code === 'ENOENT' ? 'no index.json: not a pack, or packing did not finish' : `cannot read (${code})`, code === 'ENOENT' ? dir : ip);
    }
    const index = parsePackIndex(text, ip);
    const n = index.count;
    const lb = readSide(dir, index.labels, 'labels', 4, n);
    const labels = new Int32Array(lb.buffer, lb.byteOffset, n);
    for (let i = 0; i < n; i++)
      if (labels[i] < 0 || labels[i] >= index.classes.length) throw new DataError(`record ${i} has label ${labels[i]}, outside 0..${index.classes.length - 1}`, join(dir, index.labels));
    const rb = readSide(dir, index.records, 'records', 12, n);
    const records = new Uint32Array(rb.buffer, rb.byteOffset, 3 * n);
    const pix = index.height * index.width * index.channels;
    const sizes = index.shards.map((s, i) => {
      let size: number;
      try { size = statSync(join(dir, s.file)).size; } catch { throw new DataError(`shard ${i} (${s.file}) is missing`, dir); }
      if (size !== s.bytes) throw new DataError(`shard file has ${size} bytes, the index says ${s.bytes} (truncated?)`, join(dir, s.file));
      return size;
    });
    for (let i = 0; i < n; i++) {
      const s = records[3 * i], off = records[3 * i + 1], len = records[3 * i + 2];
      if (s >= sizes.length || off + len > sizes[s] || len === 0 || (index.encoding === 'raw' && len !== pix))
        throw new DataError(`record ${i} (shard ${s}, offset ${off}, length ${len}) does not fit its shard`, join(dir, index.records));
    }
    readSide(dir, index.meanImage, 'mean image', 4, pix);
    return new PackedDataset(dir, index, labels, records);
  }

  get length(): number { return this.index.count; }
  get shape(): [number, number, number] { return [this.index.height, this.index.width, this.index.channels]; }
  get encoding(): 'raw' | 'jpeg' { return this.index.encoding; }
  get classes(): string[] { return this.index.classes; }
  /** Names per class: the pack's own (from the dataset's label files), else ILSVRC-2012 names for classes that are
   *  ILSVRC-2012 wnids (built in), else the class ids. */
  get classNames(): string[] { return this.index.classNames ?? ilsvrc2012ClassNames(this.index.classes) ?? this.index.classes; }
  get stats(): DatasetStats { return this.index.stats; }

  /** The mean image (H×W×C float32, byte units). */
  meanImage(): Float32Array {
    const b = readFileSync(join(this.dir, this.index.meanImage));
    return new Float32Array(new Uint8Array(b).buffer);
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.index.count) throw new RangeError(`PackedDataset: index ${i} is outside 0..${this.index.count - 1}`);
  }

  /** The stored bytes of record i (raw pixels or a JPEG file), read into `out` when given. */
  record(i: number, out?: Uint8Array): Uint8Array {
    this.check(i);
    const s = this.records[3 * i], off = this.records[3 * i + 1], len = this.records[3 * i + 2];
    let fd = this.fds[s];
    if (fd == null) {
      const p = join(this.dir, this.index.shards[s].file);
      try { fd = openSync(p, 'r'); } catch (e) { throw new DataError(`cannot open (${(e as NodeJS.ErrnoException).code})`, p); }
      if (fstatSync(fd).size !== this.index.shards[s].bytes) { closeSync(fd); throw new DataError('shard changed size since the pack was opened', p); }
      this.fds[s] = fd;
    }
    const buf = out ? out.subarray(0, len) : new Uint8Array(len);
    if (buf.length < len) throw new RangeError(`PackedDataset.record: out has ${out!.length} bytes, record ${i} needs ${len}`);
    let got = 0;
    while (got < len) {
      const r = readSync(fd, buf, got, len - got, off + got);
      if (r === 0) throw new DataError(`unexpected end of shard reading record ${i}`, join(this.dir, this.index.shards[s].file));
      got += r;
    }
    return buf;
  }

  /** Pixels (H×W×C) of record i; raw packs only (synchronous). */
  pixelsSync(i: number, out?: Uint8Array): Uint8Array {
    if (this.index.encoding !== 'raw') throw new DataError('pixelsSync needs a raw pack; use pixels() for JPEG packs', this.dir);
    return this.record(i, out);
  }

  /** Pixels (H×W×C) of record i, decoding JPEG records. */
  async pixels(i: number, out?: Uint8Array): Promise<Uint8Array> {
    if (this.index.encoding === 'raw') return this.record(i, out);
    const { height: H, width: W, channels: C } = this.index;
    const bytes = this.record(i);
    let data: Buffer;
    try {
      const img = sharp(bytes, { failOn: 'truncated' });
      data = await (C === 1 ? img.toColourspace('b-w') : img.toColourspace('srgb')).raw().toBuffer();
    } catch (e) {
      throw new DataError(`record ${i}: cannot decode its JPEG (${(e as Error).message.split('\n')[0]})`, this.dir);
    }
    if (data.length !== H * W * C) throw new DataError(`record ${i}: JPEG decodes to ${data.length} bytes, expected ${H}×${W}×${C}`, this.dir);
    const dst = out ?? new Uint8Array(data.length);
    dst.set(data);
    return dst;
  }

  /** Record i as an image with its label. */
  async get(i: number): Promise<{ image: ImageU8; label: number }> {
    return { image: { data: await this.pixels(i), height: this.index.height, width: this.index.width, channels: this.index.channels }, label: this.labels[i] };
  }

  /** Source file of each record (files.txt). */
  files(): string[] {
    const t = readFileSync(join(this.dir, this.index.files), 'utf8').split('\n');
    return t.slice(0, this.index.count);
  }

  close(): void {
    for (let s = 0; s < this.fds.length; s++) {
      const fd = this.fds[s];
      if (fd != null) closeSync(fd);
      this.fds[s] = null;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
