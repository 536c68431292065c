/**
 * safetensors (the format of Hugging Face's safetensors library, which PyTorch users save state dicts in):
 * 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]},
 * "__metadata__": {string: string}}, then the raw little-endian tensor bytes. Written atomically.
 */
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { Tensor, isTensor, writeFileAtomic } from '@convnet/tensor';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';
const BYTES: Record<SafetensorsDtype, number> = {
  F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};
/** Valid safetensors dtypes this reader cannot convert (named as such in errors, not as unknown). */
const UNSUPPORTED = new Set(['F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64']);
/** The safetensors library refuses headers above 100 MB; so do we (a corrupt length is caught early). */
const MAX_HEADER = 100_000_000;
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

export interface RawTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** The tensor's bytes (little-endian). */
  bytes: Uint8Array;
}

export class SafetensorsError extends Error {
  constructor(file: string, msg: string) {
    super(`${file}: not a valid safetensors file: ${msg}`);
    this.name = 'SafetensorsError';
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** A raw tensor as float32 (F32, F16, BF16, F64 and integer dtypes are converted). */
export function toFloat32(t: RawTensor, name = 'tensor'): Tensor {
  const n = t.shape.reduce((a, d) => a * d, 1);
  if (!(t.dtype in BYTES)) throw new Error(`${name}: cannot convert dtype ${t.dtype} to float32`);
  if (t.bytes.byteLength !== n * BYTES[t.dtype])
    throw new Error(`${name}: ${t.dtype} ${JSON.stringify(t.shape)} needs ${n * BYTES[t.dtype]} bytes, got ${t.bytes.byteLength}`);
  const out = new Float32Array(n);
  if (t.dtype === 'F32' && LITTLE_ENDIAN_HOST) {
    // the common case: one byte copy (the source may be unaligned, so copy bytes, not floats)
    new Uint8Array(out.buffer).set(t.bytes);
    return new Tensor(out, t.shape);
  }
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const bits = new Uint32Array(1), asFloat = new Float32Array(bits.buffer);
  for (let i = 0; i < n; i++) {
    switch (t.dtype) {
      case 'F32': out[i] = dv.getFloat32(4 * i, true); break;
      case 'F64': out[i] = dv.getFloat64(8 * i, true); break;
      case 'F16': out[i] = halfToFloat(dv.getUint16(2 * i, true)); break;
      // bfloat16 is the top half of a float32
      case 'BF16': bits[0] = dv.getUint16(2 * i, true) << 16; out[i] = asFloat[0]; break;
      case 'I64': out[i] = Number(dv.getBigInt64(8 * i, true)); break;
      case 'U64': out[i] = Number(dv.getBigUint64(8 * i, true)); break;
      case 'I32': out[i] = dv.getInt32(4 * i, true); break;
      case 'U32': out[i] = dv.getUint32(4 * i, true); break;
      case 'I16': out[i] = dv.getInt16(2 * i, true); break;
      case 'U16': out[i] = dv.getUint16(2 * i, true); break;
      case 'I8': out[i] = dv.getInt8(i); break;
      case 'U8': case 'BOOL': out[i] = dv.getUint8(i); break;
    }
  }
  return new Tensor(out, t.shape);
}

/** Parses a safetensors buffer; `file` names it in errors. Every offset is checked against the file. */
export function parseSafetensors(buf: Uint8Array, file = '<buffer>'): { tensors: Map<string, RawTensor>; metadata: Record<string, string> } {
  if (buf.length < 8) throw new SafetensorsError(file, `only ${buf.length} bytes (the 8-byte header length is missing)`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > buf.length - 8) throw new SafetensorsError(file, `header length ${n} exceeds the file (${buf.length} bytes): truncated?`);
  if (n > MAX_HEADER) throw new SafetensorsError(file, `header length ${n} is over the ${MAX_HEADER}-byte limit of the format`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n)));
  } catch (e) {
    throw new SafetensorsError(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new SafetensorsError(file, 'header is not a JSON object');
  const dataStart = 8 + n, dataLen = buf.length - dataStart;
  const tensors = new Map<string, RawTensor>();
  let metadata: Record<string, string> = {};
  const spans: [number, number, string][] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || Object.values(v).some((x) => typeof x !== 'string'))
        throw new SafetensorsError(file, '__metadata__ must map strings to strings');
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) throw new SafetensorsError(file, `entry '${name}' is not an object`);
    if (typeof e.dtype === 'string' && UNSUPPORTED.has(e.dtype)) throw new SafetensorsError(file, `tensor '${name}' has dtype ${e.dtype}, which this reader does not support`);
    if (typeof e.dtype !== 'string' || !Object.hasOwn(BYTES, e.dtype)) throw new SafetensorsError(file, `tensor '${name}' has unknown dtype ${JSON.stringify(e.dtype)}`);
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isInteger(d) || d < 0)) throw new SafetensorsError(file, `tensor '${name}' has an invalid shape ${JSON.stringify(e.shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[0] > off[1])
      throw new SafetensorsError(file, `tensor '${name}' has invalid data_offsets ${JSON.stringify(off)}`);
    if (off[1] > dataLen) throw new SafetensorsError(file, `tensor '${name}' ends at byte ${off[1]} of a ${dataLen}-byte data section: truncated?`);
    const dtype = e.dtype as SafetensorsDtype;
    const expected = (e.shape as number[]).reduce((a, d) => a * d, 1) * BYTES[dtype];
    if (off[1] - off[0] !== expected)
      throw new SafetensorsError(file, `tensor '${name}' (${dtype} ${JSON.stringify(e.shape)}) needs ${expected} bytes, its offsets span ${off[1] - off[0]}`);
    spans.push([off[0], off[1], name]);
    tensors.set(name, { dtype, shape: e.shape as number[], bytes: buf.slice(dataStart + off[0], dataStart + off[1]) });
  }
  // The format requires the tensors to tile the data section exactly: no overlaps, no holes, no tail.
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let end = 0;
  for (let i = 0; i < spans.length; i++) {
    const [b, e, name] = spans[i];
    if (b < end) throw new SafetensorsError(file, `tensors '${spans[i - 1][2]}' and '${name}' overlap`);
    if (b > end) throw new SafetensorsError(file, `bytes [${end}, ${b}) of the data section belong to no tensor (a gap before '${name}'): wrong offsets?`);
    end = e;
  }
  if (end !== dataLen) throw new SafetensorsError(file, `the tensors end at byte ${end} of a ${dataLen}-byte data section (${dataLen - end} bytes left over): wrong offsets?`);
  return { tensors, metadata };
}

export function loadSafetensors(path: string): { tensors: Map<string, RawTensor>; metadata: Record<string, string> } {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseSafetensors(buf, path);
}

/** Loads a safetensors file as float32 tensors (a state dict). */
export function loadSafetensorsStateDict(path: string): { stateDict: Map<string, Tensor>; metadata: Record<string, string> } {
  const { tensors, metadata } = loadSafetensors(path);
  return { stateDict: new Map([...tensors].map(([k, t]) => [k, toFloat32(t, `${path}: ${k}`)])), metadata };
}

/** Serialises float32 tensors (names sorted, 8-byte aligned header) with string metadata. */
export function serializeSafetensors(tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array[] {
  const names = [...tensors.keys()].sort();
  if (tensors.has('__metadata__')) throw new Error("serializeSafetensors: '__metadata__' is reserved and cannot name a tensor");
  for (const [k, v] of Object.entries(metadata))
    if (typeof v !== 'string') throw new Error(`serializeSafetensors: metadata '${k}' must be a string, got ${typeof v}`);
  for (const k of names)
    if (!isTensor(tensors.get(k))) throw new Error(`serializeSafetensors: '${k}' is not a Tensor`);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const k of names) {
    const t = tensors.get(k)!;
    header[k] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + 4 * t.size] };
    offset += 4 * t.size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, BigInt(Buffer.byteLength(json)), true);
  const parts: Uint8Array[] = [head, Buffer.from(json)];
  for (const k of names) {
    const d = tensors.get(k)!.data;
    parts.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return parts;
}

/** Writes atomically (@convnet/tensor's writeFileAtomic: temp file in the same directory, fsync, rename). */
export function saveSafetensors(path: string, tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
