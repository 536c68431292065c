/**
 * IDX files (LeCun's MNIST format, also Fashion-MNIST): magic 0x00 0x00 <type> <rank>, then `rank` big-endian
 * uint32 dimensions, then the elements big-endian, row-major. Gzipped files are recognised by their magic.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { constants as zlibConstants, gunzipSync, inflateRawSync } from 'node:zlib';
import { DataError } from './errors.js';
import type { ImageSet } from './types.js';

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface Idx {
  type: 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
  dims: number[];
  data: IdxData;
}

const TYPES: Record<number, [Idx['type'], number]> = {
  0x08: ['uint8', 1], 0x09: ['int8', 1], 0x0b: ['int16', 2], 0x0c: ['int32', 4], 0x0d: ['float32', 4], 0x0e: ['float64', 8],
};

/** Largest decompressed size accepted (guards against gzip bombs); 4 GiB. */
export const MAX_DECOMPRESSED = 2 ** 32;

/** Gunzips when the bytes start with the gzip magic, else returns them as they are. */
export function maybeGunzip(buf: Uint8Array, path?: string, maxBytes = MAX_DECOMPRESSED): Uint8Array {
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      return gunzipSync(buf, { maxOutputLength: Math.min(maxBytes, 2 ** 32) });
    } catch (e) {
      throw new DataError(`corrupt or truncated gzip data (${(e as Error).message})`, path);
    }
  }
  return buf;
}

/** Parses IDX bytes (already decompressed). Every size is checked against the byte count. */
export function parseIdx(buf: Uint8Array, path?: string): Idx {
  if (buf.length < 4) throw new DataError(`not an IDX file: ${buf.length} bytes, the header alone needs at least 4`, path);
  if (buf[0] !== 0 || buf[1] !== 0) throw new DataError(`not an IDX file: magic starts 0x${hex(buf[0])} 0x${hex(buf[1])}, expected 0x00 0x00`, path);
  const t = TYPES[buf[2]];
  if (!t) throw new DataError(`IDX element type 0x${hex(buf[2])} is not one of 0x08 0x09 0x0b 0x0c 0x0d 0x0e`, path);
  const rank = buf[3];
  if (rank < 1) throw new DataError('IDX rank is 0', path);
  const start = 4 + 4 * rank;
  if (buf.length < start) throw new DataError(`truncated IDX header: rank ${rank} needs ${start} bytes, the file has ${buf.length}`, path);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => dv.getUint32(4 + 4 * i, false));
  const [type, size] = t;
  const count = dims.reduce((a, d) => a * d, 1);
  const need = count * size;
  if (buf.length - start !== need)
    throw new DataError(`IDX dimensions ${dims.join('×')} of ${type} need ${need} bytes of data, the file has ${buf.length - start}${buf.length - start < need ? ' (truncated?)' : ''}`, path);
  let data: IdxData;
  switch (type) {
    case 'uint8': data = buf.slice(start); break;
    case 'int8': data = new Int8Array(buf.slice(start).buffer); break;
    default: {
      const Ctor = { int16: Int16Array, int32: Int32Array, float32: Float32Array, float64: Float64Array }[type];
      const a = new Ctor(count);
      for (let i = 0; i < count; i++) {
        const o = start + i * size;
        a[i] = type === 'int16' ? dv.getInt16(o, false) : type === 'int32' ? dv.getInt32(o, false) : type === 'float32' ? dv.getFloat32(o, false) : dv.getFloat64(o, false);
      }
      data = a;
    }
  }
  return { type, dims, data };
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}

export function readBytes(path: string): Uint8Array {
  try {
    // a FIFO or a device would block or never end: only regular files are read
    const st = statSync(path);
    if (!st.isFile() && !st.isDirectory()) throw new DataError('not a regular file (a FIFO or device); expected a data file', path);
    return readFileSync(path);
  } catch (e) {
    if (e instanceof DataError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, expected a file' : `cannot read (${code ?? (e as Error).message})`, path);
  }
}

/**
 * The size an IDX file declares in its header (header + elements), from the first bytes of its (possibly gzipped)
 * contents, or null when they are not an IDX header. Lets a gzipped file be inflated with that bound, so a gzip
 * bomb is refused after inflating no more than its header promised.
 */
export function declaredIdxSize(buf: Uint8Array): number | null {
  const head = idxHead(buf);
  if (!head || head.length < 4 || head[0] !== 0 || head[1] !== 0 || !TYPES[head[2]]) return null;
  const rank = head[3], start = 4 + 4 * rank;
  if (rank < 1 || head.length < start) return null;
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let count = 1;
  for (let i = 0; i < rank; i++) count *= dv.getUint32(4 + 4 * i, false);
  return start + count * TYPES[head[2]][1];
}

/**
 * The first bytes of a (possibly gzipped) file's contents, or null when its gzip data is corrupt: the gzip
 * header's optional fields (extra, file name, comment, header CRC) are skipped, then 512 bytes of deflate data
 * inflate to at most ~528 KB.
 */
function idxHead(buf: Uint8Array): Uint8Array | null {
  if (!isGzip(buf)) return buf.subarray(0, 1024);
  if (buf.length < 10 || buf[2] !== 8) return null;
  const flg = buf[3];
  let p = 10;
  if (flg & 4) { if (p + 2 > buf.length) return null; p += 2 + (buf[p] | (buf[p + 1] << 8)); }
  for (const bit of [8, 16]) {
    if (!(flg & bit)) continue;
    const z = buf.indexOf(0, p);
    if (z < 0) return null;
    p = z + 1;
  }
  if (flg & 2) p += 2;
  if (p > buf.length) return null;
  try {
    return inflateRawSync(buf.subarray(p, p + 512), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: 1 << 20 });
  } catch {
    return null;
  }
}

const isGzip = (buf: Uint8Array) => buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;

/** Deflate's largest ratio (a run of one byte): n compressed bytes inflate to at most about 1032·n. */
const DEFLATE_MAX_RATIO = 1032;

/**
 * Reads an IDX file, gzipped or not. A gzipped file is inflated up to the size its header declares, and no more:
 * a gzip bomb stops at that size; gzipped data without an IDX header at its start, or a header declaring more
 * than the compressed bytes can hold, is refused before inflating.
 */
export function readIdx(path: string): Idx {
  const raw = readBytes(path);
  if (!isGzip(raw)) return parseIdx(raw, path);
  const declared = declaredIdxSize(raw);
  if (declared === null) {
    const head = idxHead(raw);
    if (!head) throw new DataError('corrupt or truncated gzip data (its start does not inflate)', path);
    if (head.length >= 4 && (head[0] !== 0 || head[1] !== 0 || !TYPES[head[2]] || head[3] < 1)) parseIdx(head.subarray(0, 4), path);
    throw new DataError(`corrupt or truncated gzip data (${head.length} bytes inflate from its start, not a whole IDX header)`, path);
  }
  if (declared > DEFLATE_MAX_RATIO * raw.length + 1024)
    throw new DataError(`its IDX header declares ${declared} bytes, more than ${raw.length} gzipped bytes can inflate to (truncated?)`, path);
  let bytes: Uint8Array;
  try {
    bytes = maybeGunzip(raw, path, Math.min(MAX_DECOMPRESSED, declared + 1));
  } catch (e) {
    if (/Cannot create a Buffer larger|maxOutputLength|buffer.*larger/i.test((e as Error).message))
      throw new DataError(`decompresses to more than the ${declared} bytes its IDX header declares (a gzip bomb or a damaged file)`, path);
    throw e;
  }
  if (bytes.length > declared)
    throw new DataError(`decompresses to more than the ${declared} bytes its IDX header declares (a gzip bomb or a damaged file)`, path);
  return parseIdx(bytes, path);
}

/** Builds an image set from an IDX image tensor (n×h×w or n×h×w×c, uint8) and an IDX label vector (n). */
export function idxImageSet(images: Idx, labels: Idx, classes?: string[], paths: [string?, string?] = []): ImageSet {
  if (images.type !== 'uint8') throw new DataError(`IDX images must be uint8, got ${images.type}`, paths[0]);
  if (images.dims.length !== 3 && images.dims.length !== 4) throw new DataError(`IDX images must be n×h×w or n×h×w×c, got ${images.dims.join('×')}`, paths[0]);
  if (labels.dims.length !== 1) throw new DataError(`IDX labels must be a vector, got ${labels.dims.join('×')}`, paths[1]);
  if (labels.type !== 'uint8' && labels.type !== 'int8' && labels.type !== 'int16' && labels.type !== 'int32')
    throw new DataError(`IDX labels must be integers, got ${labels.type}`, paths[1]);
  const [n, h, w, c = 1] = images.dims;
  if (labels.dims[0] !== n) throw new DataError(`${labels.dims[0]} labels for ${n} images`, paths[1]);
  const lab = Int32Array.from(labels.data as ArrayLike<number>);
  let max = -1;
  for (let i = 0; i < n; i++) {
    if (lab[i] < 0) throw new DataError(`label ${i} is negative (${lab[i]})`, paths[1]);
    if (lab[i] > max) max = lab[i];
  }
  const cls = classes ?? Array.from({ length: max + 1 }, (_, i) => String(i));
  if (max >= cls.length) throw new DataError(`label ${max} is out of range for ${cls.length} classes`, paths[1]);
  return { images: images.data as Uint8Array, labels: lab, n, height: h, width: w, channels: c, classes: cls };
}

export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
/** Where Debian's dataset-fashion-mnist package installs the files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/**
 * MNIST-layout directory (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-..., each optionally .gz):
 * the train or test split as an in-memory image set (n × 28 × 28 × 1).
 */
export function loadMnist(dir: string, split: 'train' | 'test' = 'train', classes: string[] = MNIST_CLASSES): ImageSet {
  const prefix = split === 'train' ? 'train' : 't10k';
  const find = (stem: string) => {
    for (const f of [stem, `${stem}.gz`]) if (existsSync(join(dir, f))) return join(dir, f);
    throw new DataError(`missing ${stem} (or ${stem}.gz)`, dir);
  };
  const ip = find(`${prefix}-images-idx3-ubyte`), lp = find(`${prefix}-labels-idx1-ubyte`);
  return idxImageSet(readIdx(ip), readIdx(lp), classes, [ip, lp]);
}

/** Fashion-MNIST (same layout as MNIST) with its class names; defaults to Debian's install location. */
export function loadFashionMnist(split: 'train' | 'test' = 'train', dir = DEBIAN_FASHION_MNIST_DIR): ImageSet {
  return loadMnist(dir, split, FASHION_MNIST_CLASSES);
}
