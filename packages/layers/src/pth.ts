/**
 * PyTorch `.pth` / `.pt` state dicts as `torch.save` writes them, read and written without Python:
 *
 * - the zip format (PyTorch ≥ 1.6): `<name>/data.pkl` (a pickle), `<name>/data/<key>` (one raw little-endian
 *   storage per key), `<name>/version`; entries are stored (PyTorch never compresses them; deflated entries from
 *   re-zipped files are inflated too);
 * - the legacy format (`_use_new_zipfile_serialization=False`): magic number, protocol version and system-info
 *   pickles, the object pickle, the list of storage keys, then each storage as an int64 element count + bytes.
 *
 * The pickle is read by a small interpreter for the opcodes state dicts use (protocols 2 to 4). It never imports
 * or runs anything: GLOBAL is looked up in an allow-list of the names a state dict contains
 * (`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter`, the typed
 * storage classes) and REDUCE on them runs our own TypeScript builder; any other global is refused, by name.
 */
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import * as zlib from 'node:zlib';
import { Tensor, writeFileAtomic } from '@convnet/tensor';

/** Longest message text a PthError carries (names and values taken from a file are cut to fit). */
const MAX_MESSAGE = 400;

export class PthError extends Error {
  constructor(file: string, msg: string) {
    // one line of bounded length, whatever the file put in its names
    const one = msg.replace(/[\r\n\t]+/g, ' ');
    super(`${file}: ${one.length > MAX_MESSAGE ? `${one.slice(0, MAX_MESSAGE)}...` : one}`);
    this.name = 'PthError';
  }
}

// ---------------------------------------------------------------------------------------------- zip

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
const nativeCrc32 = (zlib as { crc32?: (b: Uint8Array) => number }).crc32;
/** CRC-32 (zip's): zlib's where Node has it (≥ 20.15), else a table loop. */
export function crc32(b: Uint8Array): number {
  if (nativeCrc32) return nativeCrc32(b) >>> 0;
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface ZipEntry { name: string; method: number; compressedSize: number; size: number; localOffset: number; crc: number }

/** The entries of a zip archive from its central directory (what PyTorch's reader uses too). */
export function readZipDirectory(buf: Uint8Array, file: string): Map<string, ZipEntry> {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  // end of central directory record: 22 bytes + a comment of up to 65535 bytes, at the end of the file
  let eocd = -1;
  for (let p = buf.length - 22; p >= Math.max(0, buf.length - 22 - 65535); p--)
    if (dv.getUint32(p, true) === 0x06054b50) { eocd = p; break; }
  if (eocd < 0) throw new PthError(file, 'not a complete zip archive (no end-of-central-directory record): truncated?');
  const count = dv.getUint16(eocd + 10, true), cdSize = dv.getUint32(eocd + 12, true), cdOffset = dv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff)
    throw new PthError(file, 'is a zip64 archive (over 4 GiB or 65535 entries), which this reader does not support');
  if (cdOffset + cdSize > eocd) throw new PthError(file, `zip central directory [${cdOffset}, ${cdOffset + cdSize}) runs past its end record at ${eocd}: truncated or corrupt`);
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > eocd || dv.getUint32(p, true) !== 0x02014b50) throw new PthError(file, `zip central directory entry ${i} is corrupt`);
    const flags = dv.getUint16(p + 8, true), method = dv.getUint16(p + 10, true), crc = dv.getUint32(p + 16, true);
    const compressedSize = dv.getUint32(p + 20, true), size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true), extraLen = dv.getUint16(p + 30, true), commentLen = dv.getUint16(p + 32, true);
    const localOffset = dv.getUint32(p + 42, true);
    if (p + 46 + nameLen > eocd) throw new PthError(file, `zip central directory entry ${i} is corrupt`);
    const name = new TextDecoder().decode(buf.subarray(p + 46, p + 46 + nameLen));
    if (flags & 1) throw new PthError(file, `zip entry '${name}' is encrypted`);
    if (compressedSize === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff)
      throw new PthError(file, `zip entry '${name}' uses zip64 sizes, which this reader does not support`);
    entries.set(name, { name, method, compressedSize, size, localOffset, crc });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Largest inflated : deflated size ratio a compressed zip entry may declare (PyTorch itself never compresses). */
export const MAX_INFLATE_RATIO = 64;

/** One entry's bytes (a view for stored entries); sizes and the CRC are checked. */
export function readZipEntry(buf: Uint8Array, e: ZipEntry, file: string): Uint8Array {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const p = e.localOffset;
  if (p + 30 > buf.length || dv.getUint32(p, true) !== 0x04034b50) throw new PthError(file, `zip entry '${e.name}': no local header at byte ${p}: truncated or corrupt`);
  const start = p + 30 + dv.getUint16(p + 26, true) + dv.getUint16(p + 28, true);
  if (start + e.compressedSize > buf.length)
    throw new PthError(file, `zip entry '${e.name}' needs bytes [${start}, ${start + e.compressedSize}) of a ${buf.length}-byte file: truncated`);
  const raw = buf.subarray(start, start + e.compressedSize);
  let data: Uint8Array;
  if (e.method === 0) data = raw;
  else if (e.method === 8) {
    // PyTorch stores its entries; a re-zipped file's weights and pickle deflate by a few times at most, so a
    // declared size far beyond the compressed one is a zip bomb, refused before anything is inflated
    if (e.size > MAX_INFLATE_RATIO * e.compressedSize + (1 << 20))
      throw new PthError(file, `zip entry '${e.name}' would inflate ${e.compressedSize} bytes to ${e.size} (over ${MAX_INFLATE_RATIO}:1): refused as a zip bomb`);
    try {
      data = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
    } catch (err) {
      throw new PthError(file, `zip entry '${e.name}' does not inflate (${(err as Error).message})`);
    }
  } else throw new PthError(file, `zip entry '${e.name}' uses compression method ${e.method} (only stored and deflated entries are read)`);
  if (data.length !== e.size) throw new PthError(file, `zip entry '${e.name}' holds ${data.length} bytes, its directory says ${e.size}`);
  if (crc32(data) >>> 0 !== e.crc >>> 0) throw new PthError(file, `zip entry '${e.name}' fails its CRC check: corrupt`);
  return data;
}

// ------------------------------------------------------------------------------------------- pickle

/** A Python tuple (kept apart from lists only where it matters: persistent ids and reduce arguments). */
class PyGlobal { constructor(readonly module: string, readonly name: string) {} }
/** dict / OrderedDict: insertion-ordered, keys are strings or numbers. */
export class PyDict { readonly map = new Map<unknown, unknown>(); }
export interface PthStorage { dtype: PthDtype; key: string; numel: number }
export class PthTensor {
  constructor(readonly storage: PthStorage, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}
}

export type PthDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';
const STORAGES: Record<string, PthDtype> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64',
  LongStorage: 'I64', IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};
const ELEM: Record<PthDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
/** Every global a state dict may name. Anything else is refused when the pickle names it. */
const ALLOWED = new Set([
  'collections OrderedDict', 'torch._utils _rebuild_tensor_v2', 'torch._utils _rebuild_parameter',
  'torch._utils _rebuild_parameter_with_state', 'builtins set', '__builtin__ set',
  ...Object.keys(STORAGES).map((s) => `torch ${s}`),
]);

const MAX_DIMS = 64;
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

function isIntList(v: unknown): v is number[] {
  return Array.isArray(v) && v.length <= MAX_DIMS && v.every((d) => typeof d === 'number' && Number.isSafeInteger(d));
}

/**
 * Runs the pickle in `bytes`. `persistentLoad` turns a persistent id (a tuple) into a value.
 * Errors name `file` and `what` (e.g. 'data.pkl').
 */
export function unpickle(bytes: Uint8Array, file: string, what: string, persistentLoad: (pid: unknown) => unknown, start = 0): { value: unknown; end: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (msg: string): never => { throw new PthError(file, `${what}: ${msg}`); };
  let p = start;
  const need = (n: number) => { if (p + n > bytes.length) fail(`ends inside an opcode at byte ${p}: truncated`); };
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const pop = (): unknown => (stack.length ? stack.pop() : fail(`stack underflow at byte ${p}`));
  const top = (): unknown => (stack.length ? stack[stack.length - 1] : fail(`stack underflow at byte ${p}`));
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined || m > stack.length) return fail(`no MARK for the opcode at byte ${p - 1}`);
    return stack.splice(m);
  };
  const str = (n: number, enc: 'utf8' | 'latin1') => {
    need(n);
    const s = enc === 'utf8' ? new TextDecoder('utf-8').decode(bytes.subarray(p, p + n)) : Buffer.from(bytes.subarray(p, p + n)).toString('latin1');
    p += n;
    return s;
  };
  const line = () => {
    const e = bytes.indexOf(10, p);
    if (e < 0) fail(`ends inside a GLOBAL at byte ${p}: truncated`);
    const s = Buffer.from(bytes.subarray(p, e)).toString('latin1');
    p = e + 1;
    return s;
  };
  const setItems = (d: unknown, kv: unknown[]) => {
    if (!(d instanceof PyDict)) fail(`SETITEM(S) on a ${typeName(d)}, not a dict`);
    if (kv.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) {
      const k = kv[i];
      if (typeof k !== 'string' && typeof k !== 'number' && typeof k !== 'boolean' && k !== null) fail(`a dict key is a ${typeName(k)}`);
      (d as PyDict).map.set(k, kv[i + 1]);
    }
  };
  const reduce = (f: unknown, args: unknown): unknown => {
    if (!(f instanceof PyGlobal)) return fail(`REDUCE calls a ${typeName(f)}, not an allowed global`);
    if (!Array.isArray(args)) return fail(`REDUCE arguments are a ${typeName(args)}, not a tuple`);
    const name = `${f.module}.${f.name}`;
    switch (name) {
      case 'collections.OrderedDict': {
        const d = new PyDict();
        if (args.length === 1 && Array.isArray(args[0])) for (const kv of args[0]) if (Array.isArray(kv) && kv.length === 2) setItems(d, kv);
        return d;
      }
      case 'builtins.set': case '__builtin__.set': return Array.isArray(args[0]) ? [...args[0]] : [];
      case 'torch._utils._rebuild_parameter': case 'torch._utils._rebuild_parameter_with_state':
        if (!(args[0] instanceof PthTensor)) return fail(`${name} of a ${typeName(args[0])}, not a tensor`);
        return args[0];
      case 'torch._utils._rebuild_tensor_v2': {
        const [storage, offset, size, stride] = args as [unknown, unknown, unknown, unknown];
        if (!isStorage(storage)) return fail(`_rebuild_tensor_v2 of a ${typeName(storage)}, not a storage`);
        if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return fail(`_rebuild_tensor_v2: bad storage offset ${describe(offset)}`);
        if (!isIntList(size) || size.some((d) => d < 0)) return fail(`_rebuild_tensor_v2: bad size ${describe(size)}`);
        if (!isIntList(stride) || stride.length !== size.length || stride.some((d) => d < 0)) return fail(`_rebuild_tensor_v2: bad stride ${describe(stride)} for size ${describe(size)}`);
        return new PthTensor(storage, offset, size, stride);
      }
      default: return fail(`REDUCE on ${name}, which builds nothing in a state dict`);
    }
  };
  for (;;) {
    need(1);
    const op = bytes[p++];
    switch (op) {
      case 0x80: need(1); if (bytes[p] > 5) fail(`pickle protocol ${bytes[p]} is not supported`); p++; break; // PROTO
      case 0x95: need(8); p += 8; break; // FRAME (protocol 4): the frame length is only a hint
      case 0x2e: { // STOP
        if (stack.length !== 1 || marks.length) fail(`STOP with ${stack.length} values on the stack`);
        return { value: stack[0], end: p };
      }
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: need(1); stack.push(bytes[p]); p += 1; break; // BININT1
      case 0x4d: need(2); stack.push(dv.getUint16(p, true)); p += 2; break; // BININT2
      case 0x4a: need(4); stack.push(dv.getInt32(p, true)); p += 4; break; // BININT
      case 0x8a: { // LONG1
        need(1);
        const n = bytes[p++];
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[p + i]);
        if (n && bytes[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: need(8); stack.push(dv.getFloat64(p, false)); p += 8; break; // BINFLOAT (big-endian)
      case 0x58: { need(4); const n = dv.getUint32(p, true); p += 4; stack.push(str(n, 'utf8')); break; } // BINUNICODE
      case 0x8c: { need(1); const n = bytes[p++]; stack.push(str(n, 'utf8')); break; } // SHORT_BINUNICODE
      case 0x54: { need(4); const n = dv.getUint32(p, true); p += 4; stack.push(str(n, 'latin1')); break; } // BINSTRING
      case 0x55: { need(1); const n = bytes[p++]; stack.push(str(n, 'latin1')); break; } // SHORT_BINSTRING
      case 0x43: { need(1); const n = bytes[p++]; need(n); stack.push(bytes.slice(p, p + n)); p += n; break; } // SHORT_BINBYTES
      case 0x42: { need(4); const n = dv.getUint32(p, true); p += 4; need(n); stack.push(bytes.slice(p, p + n)); p += n; break; } // BINBYTES
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(), a = pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x61: { const v = pop(), l = top(); if (!Array.isArray(l)) fail('APPEND to a non-list'); (l as unknown[]).push(v); break; } // APPEND
      case 0x65: { const vs = popMark(), l = top(); if (!Array.isArray(l)) fail('APPENDS to a non-list'); for (const v of vs) (l as unknown[]).push(v); break; } // APPENDS
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x64: { const kv = popMark(); const d = new PyDict(); setItems(d, kv); stack.push(d); break; } // DICT
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x63: { // GLOBAL
        const module = line(), name = line();
        if (!ALLOWED.has(`${module} ${name}`))
          fail(`names the global '${module}.${name}', which is not part of a state dict; refused (this reader never imports or runs anything a file names)`);
        stack.push(new PyGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL (protocol 4)
        const name = pop(), module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL of non-strings');
        if (!ALLOWED.has(`${module} ${name}`))
          fail(`names the global '${module}.${name}', which is not part of a state dict; refused (this reader never imports or runs anything a file names)`);
        stack.push(new PyGlobal(module as string, name as string));
        break;
      }
      case 0x52: { const args = pop(), f = pop(); stack.push(reduce(f, args)); break; } // REDUCE
      case 0x62: { // BUILD: OrderedDict's attributes (`_metadata`) and a parameter's state carry no weights
        const state = pop(), obj = top();
        if (!(obj instanceof PyDict || obj instanceof PthTensor)) fail(`BUILD on a ${typeName(obj)}`);
        void state;
        break;
      }
      case 0x51: stack.push(persistentLoad(pop())); break; // BINPERSID
      case 0x71: { need(1); memo.set(bytes[p++], top()); break; } // BINPUT
      case 0x72: { need(4); memo.set(dv.getUint32(p, true), top()); p += 4; break; } // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const n = op === 0x68 ? 1 : 4;
        need(n);
        const k = op === 0x68 ? bytes[p] : dv.getUint32(p, true);
        p += n;
        if (!memo.has(k)) fail(`memo entry ${k} is read before it is written`);
        stack.push(memo.get(k));
        break;
      }
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      default:
        fail(`opcode 0x${op.toString(16).padStart(2, '0')} ('${String.fromCharCode(op)}') at byte ${p - 1} is outside the subset state dicts use`);
    }
  }
}

function typeName(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'tuple/list';
  if (v instanceof PyDict) return 'dict';
  if (v instanceof PthTensor) return 'tensor';
  if (v instanceof PyGlobal) return `global ${v.module}.${v.name}`;
  if (isStorage(v)) return 'storage';
  return typeof v;
}
function isStorage(v: unknown): v is PthStorage {
  return typeof v === 'object' && v !== null && 'dtype' in v && 'key' in v && 'numel' in v && !(v instanceof PthTensor);
}

/** A persistent id ('storage', <storage class>, key, location, numel[, view metadata]) as a storage. */
function storageFromPid(pid: unknown, file: string): PthStorage {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw new PthError(file, `persistent id ${describe(pid)} is not a storage`);
  const [, cls, key, , numel] = pid;
  if (!(cls instanceof PyGlobal) || cls.module !== 'torch' || !(cls.name in STORAGES)) throw new PthError(file, `storage ${describe(key)} has type ${describe(cls)}, not a torch storage type`);
  if (typeof key !== 'string' && typeof key !== 'number') throw new PthError(file, `storage key ${describe(key)} is not a string`);
  if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) throw new PthError(file, `storage ${key} has size ${describe(numel)}`);
  if (pid.length > 5 && pid[5] !== null) throw new PthError(file, `storage ${key} is a view of another storage (pre-1.0 files), which this reader does not support`);
  return { dtype: STORAGES[cls.name], key: String(key), numel };
}

/**
 * A short text for a pickled value in an error message: at most 3 levels deep and about 120 characters, whatever
 * the value (a pickle's memo can share one tuple many times over, so a full rendering can be exponential in size).
 */
function describe(v: unknown): string {
  const LIMIT = 120;
  let out = '';
  const put = (x: string) => { if (out.length <= LIMIT) out += x; };
  const walk = (x: unknown, depth: number): void => {
    if (out.length > LIMIT) return;
    if (x instanceof PyGlobal) put(`${x.module}.${x.name}`);
    else if (typeof x === 'string') put(JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x));
    else if (typeof x === 'bigint') put(String(x));
    else if (typeof x === 'number' || typeof x === 'boolean') put(String(x));
    else if (x === null || x === undefined) put('None');
    else if (Array.isArray(x)) {
      if (depth >= 3) { put(x.length ? '[...]' : '[]'); return; }
      put('[');
      for (let i = 0; i < x.length && out.length <= LIMIT; i++) {
        if (i) put(',');
        walk(x[i], depth + 1);
      }
      put(']');
    } else put(`<${typeName(x)}>`);
  };
  walk(v, 0);
  return out.length > LIMIT ? `${out.slice(0, LIMIT)}...` : out;
}

// ------------------------------------------------------------------------------------------ tensors

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

export interface PthFile {
  /** The object the pickle holds (dicts as PyDict, tensors as PthTensor). */
  object: unknown;
  /** Storage bytes by key (little-endian). */
  storages: Map<string, Uint8Array>;
  format: 'zip' | 'legacy';
  bigEndian: boolean;
}

/** Parses a torch.save file (zip or legacy) into its pickled object and raw storages. */
export function parsePth(buf: Uint8Array, file = '<buffer>'): PthFile {
  try {
    return parsePthBytes(buf, file);
  } catch (e) {
    // anything deep enough to exhaust the stack is not a state dict: one line naming the file
    if (e instanceof RangeError) throw new PthError(file, `cannot be read (${e.message}): nested too deeply or too large for a state dict`);
    throw e;
  }
}

function parsePthBytes(buf: Uint8Array, file: string): PthFile {
  if (buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 3 && buf[3] === 4) return parseZipPth(buf, file);
  if (buf.length >= 2 && buf[0] === 0x80 && buf[1] <= 5) return parseLegacyPth(buf, file);
  if (buf.length >= 2 && buf[0] === 0x50 && buf[1] === 0x4b) throw new PthError(file, 'not a torch.save zip archive (no local file header at byte 0): truncated or corrupt?');
  throw new PthError(file, 'is neither a torch.save zip archive nor a legacy torch.save pickle');
}

function parseZipPth(buf: Uint8Array, file: string): PthFile {
  const entries = readZipDirectory(buf, file);
  const pkl = [...entries.keys()].filter((n) => n.endsWith('/data.pkl') && n.split('/').length === 2);
  if (pkl.length !== 1) throw new PthError(file, pkl.length ? `holds ${pkl.length} data.pkl records` : 'is a zip archive without <name>/data.pkl: not a torch.save file');
  const prefix = pkl[0].slice(0, -'data.pkl'.length);
  const byteorder = entries.get(`${prefix}byteorder`);
  const bigEndian = byteorder ? new TextDecoder().decode(readZipEntry(buf, byteorder, file)).trim() === 'big' : false;
  const storages = new Map<string, Uint8Array>();
  const { value } = unpickle(readZipEntry(buf, entries.get(pkl[0])!, file), file, 'data.pkl', (pid) => {
    const s = storageFromPid(pid, file);
    if (!storages.has(s.key)) {
      const e = entries.get(`${prefix}data/${s.key}`);
      if (!e) throw new PthError(file, `storage ${s.key} has no record ${prefix}data/${s.key}: truncated?`);
      storages.set(s.key, readZipEntry(buf, e, file));
    }
    return s;
  });
  return { object: value, storages, format: 'zip', bigEndian };
}

function parseLegacyPth(buf: Uint8Array, file: string): PthFile {
  const noPid = () => { throw new PthError(file, 'legacy header holds a persistent id'); };
  const magic = unpickle(buf, file, 'legacy magic number', noPid);
  if (magic.value !== Number(LEGACY_MAGIC) && magic.value !== LEGACY_MAGIC)
    throw new PthError(file, 'is a pickle but not a torch.save file (no torch magic number); refused');
  const version = unpickle(buf, file, 'legacy protocol version', noPid, magic.end);
  if (version.value !== 1001) throw new PthError(file, `legacy torch.save protocol ${describe(version.value)} is not supported (1001 is)`);
  const sysInfo = unpickle(buf, file, 'legacy system info', noPid, version.end);
  let bigEndian = false;
  if (sysInfo.value instanceof PyDict) bigEndian = sysInfo.value.map.get('little_endian') === false;
  const storageInfo = new Map<string, PthStorage>();
  const main = unpickle(buf, file, 'legacy object pickle', (pid) => {
    const s = storageFromPid(pid, file);
    storageInfo.set(s.key, s);
    return s;
  }, sysInfo.end);
  const keys = unpickle(buf, file, 'legacy storage key list', noPid, main.end);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) throw new PthError(file, 'legacy storage key list is not a list of strings');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const storages = new Map<string, Uint8Array>();
  let p = keys.end;
  for (const key of keys.value as string[]) {
    const info = storageInfo.get(key);
    if (!info) throw new PthError(file, `legacy storage ${key} is not used by any tensor`);
    if (p + 8 > buf.length) throw new PthError(file, `legacy storage ${key}: its size field is past the end of the file: truncated`);
    const n = dv.getBigInt64(p, !bigEndian);
    if (n !== BigInt(info.numel)) throw new PthError(file, `legacy storage ${key} holds ${n} elements, the pickle says ${info.numel}`);
    const bytes = info.numel * ELEM[info.dtype];
    if (p + 8 + bytes > buf.length) throw new PthError(file, `legacy storage ${key} needs ${bytes} bytes at ${p + 8} of a ${buf.length}-byte file: truncated`);
    storages.set(key, buf.subarray(p + 8, p + 8 + bytes));
    p += 8 + bytes;
  }
  return { object: main.value, storages, format: 'legacy', bigEndian };
}

function readElem(dv: DataView, dtype: PthDtype, i: number, le: boolean, scratch: { bits: Uint32Array; f: Float32Array }): number {
  switch (dtype) {
    case 'F32': return dv.getFloat32(4 * i, le);
    case 'F64': return dv.getFloat64(8 * i, le);
    case 'F16': return halfToFloat(dv.getUint16(2 * i, le));
    case 'BF16': scratch.bits[0] = dv.getUint16(2 * i, le) << 16; return scratch.f[0];
    case 'I64': return Number(dv.getBigInt64(8 * i, le));
    case 'I32': return dv.getInt32(4 * i, le);
    case 'I16': return dv.getInt16(2 * i, le);
    case 'I8': return dv.getInt8(i);
    case 'U8': case 'BOOL': return dv.getUint8(i);
  }
}
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** A tensor of a parsed file as a contiguous float32 Tensor (strides and offsets applied; storages may be shared). */
export function pthTensorToFloat32(f: PthFile, t: PthTensor, file: string, name: string): Tensor {
  const bytes = f.storages.get(t.storage.key);
  if (!bytes) throw new PthError(file, `'${name}': storage ${t.storage.key} is missing`);
  const es = ELEM[t.storage.dtype];
  const have = Math.floor(bytes.length / es);
  if (have < t.storage.numel) throw new PthError(file, `'${name}': storage ${t.storage.key} holds ${have} elements, the pickle says ${t.storage.numel}: truncated?`);
  let n = 1, last = t.offset;
  for (let d = 0; d < t.shape.length; d++) { n *= t.shape[d]; last += (t.shape[d] - 1) * t.stride[d]; }
  if (!Number.isSafeInteger(n) || n > 2 ** 31) throw new PthError(file, `'${name}': shape ${JSON.stringify(t.shape)} is too large`);
  // no two elements in one place, except along stride-0 dimensions (torch.save keeps an expanded tensor's
  // broadcast layout); the element budget of pthStateDict bounds what a broadcast view may expand to
  const dims = t.shape.map((size, d) => ({ size, stride: t.stride[d] })).filter((x) => x.size > 1 && x.stride > 0).sort((a, b) => a.stride - b.stride);
  for (let i = 1; i < dims.length; i++)
    if (dims[i].stride < dims[i - 1].stride * dims[i - 1].size)
      throw new PthError(file, `'${name}': shape ${JSON.stringify(t.shape)} with stride ${JSON.stringify(t.stride)} puts several elements in one place`);
  if (n > 0 && last >= t.storage.numel)
    throw new PthError(file, `'${name}': shape ${JSON.stringify(t.shape)}, stride ${JSON.stringify(t.stride)} and offset ${t.offset} reach element ${last} of a ${t.storage.numel}-element storage`);
  const out = new Float32Array(n);
  let contiguous = true;
  for (let d = t.shape.length - 1, expect = 1; d >= 0; d--) {
    if (t.shape[d] !== 1 && t.stride[d] !== expect) contiguous = false;
    expect *= t.shape[d];
  }
  if (contiguous && t.storage.dtype === 'F32' && !f.bigEndian && LITTLE_ENDIAN_HOST) {
    // the common case: one byte copy (the storage may be unaligned, so copy bytes, not floats)
    new Uint8Array(out.buffer).set(bytes.subarray(4 * t.offset, 4 * (t.offset + n)));
    return new Tensor(out, [...t.shape]);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = !f.bigEndian, scratch = { bits: new Uint32Array(1), f: new Float32Array(1) };
  scratch.f = new Float32Array(scratch.bits.buffer);
  const rank = t.shape.length, idx = new Array<number>(rank).fill(0);
  let src = t.offset;
  for (let i = 0; i < n; i++) {
    out[i] = readElem(dv, t.storage.dtype, src, le, scratch);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      src += t.stride[d];
      if (idx[d] < t.shape[d]) break;
      src -= t.stride[d] * t.shape[d];
      idx[d] = 0;
    }
  }
  return new Tensor(out, [...t.shape]);
}

/** The keys under which a checkpoint dict commonly nests its model's state dict. */
const NESTED = ['state_dict', 'model_state_dict', 'model', 'net', 'network', 'module'];

/**
 * The state dict a torch.save file holds: a dict of tensors at the top, or under one of the usual checkpoint
 * keys ('state_dict', 'model_state_dict', 'model', ...). Every tensor becomes a contiguous float32 Tensor.
 */
export function pthStateDict(f: PthFile, file: string, dtypes?: Map<string, string>): Map<string, Tensor> {
  const isTensorDict = (v: unknown): v is PyDict => v instanceof PyDict && v.map.size > 0 && [...v.map.values()].every((x) => x instanceof PthTensor);
  let d: PyDict | undefined;
  if (isTensorDict(f.object)) d = f.object;
  else if (f.object instanceof PyDict) {
    for (const k of NESTED) if (isTensorDict(f.object.map.get(k))) { d = f.object.map.get(k) as PyDict; break; }
    if (!d) {
      const keys = [...f.object.map.keys()].slice(0, 12).map(String);
      const nonTensor = [...f.object.map].find(([, v]) => !(v instanceof PthTensor));
      throw new PthError(file, nonTensor && [...f.object.map.values()].some((v) => v instanceof PthTensor)
        ? `entry '${String(nonTensor[0])}' is a ${typeName(nonTensor[1])}, not a tensor (a state dict maps names to tensors)`
        : `holds a dict without tensors (keys: ${keys.join(', ') || 'none'}) and none of ${NESTED.join(', ')} is a state dict`);
    }
  } else throw new PthError(file, `holds a ${typeName(f.object)}, not a state dict`);
  // a budget before anything is materialised: views may share a storage (tied weights) or broadcast it (stride 0),
  // but all the tensors together may not hold more than twice the elements the file's storages hold (plus 1M)
  let stored = 0;
  for (const b of f.storages.values()) stored += b.length;
  const budget = 2 * stored + (1 << 20);
  let total = 0;
  for (const [k, v] of d.map) {
    if (typeof k !== 'string') throw new PthError(file, `a state-dict key is ${describe(k)}, not a string`);
    const t = v as PthTensor;
    total += t.shape.reduce((a, b) => a * b, 1);
    if (total > budget)
      throw new PthError(file, `its tensors hold more than ${budget} elements, over twice what its ${stored} bytes of storage hold (at '${k}'): refused`);
  }
  const out = new Map<string, Tensor>();
  for (const [k, v] of d.map) {
    out.set(k as string, pthTensorToFloat32(f, v as PthTensor, file, k as string));
    dtypes?.set(k as string, (v as PthTensor).storage.dtype);
  }
  return out;
}

/** Reads a torch.save file's state dict as float32 tensors. */
export function loadPth(path: string): Map<string, Tensor> {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return pthStateDict(parsePth(buf, path), path);
}

// ------------------------------------------------------------------------------------------ writing

class PickleWriter {
  private parts: number[] = [];
  byte(...b: number[]) { for (const x of b) this.parts.push(x); }
  u32(n: number) { this.byte(n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255); }
  int(n: number) {
    if (n >= 0 && n < 256) this.byte(0x4b, n);
    else if (n >= 0 && n < 65536) this.byte(0x4d, n & 255, n >> 8);
    else if (n >= -(2 ** 31) && n < 2 ** 31) { this.byte(0x4a); this.u32(n >>> 0); }
    else {
      // LONG1: little-endian two's complement
      const bytes: number[] = [];
      let v = BigInt(n);
      do { bytes.push(Number(v & 255n)); v >>= 8n; } while (!(v === 0n && !(bytes[bytes.length - 1] & 0x80)) && !(v === -1n && bytes[bytes.length - 1] & 0x80));
      this.byte(0x8a, bytes.length, ...bytes);
    }
  }
  str(s: string) { const b = Buffer.from(s, 'utf8'); this.byte(0x58); this.u32(b.length); for (const x of b) this.parts.push(x); }
  global(module: string, name: string) { this.byte(0x63); for (const x of Buffer.from(`${module}\n${name}\n`, 'latin1')) this.parts.push(x); }
  tuple(items: readonly number[]) { this.byte(0x28); for (const i of items) this.int(i); this.byte(0x74); }
  bytes() { return Uint8Array.from(this.parts); }
}

/** The pickle (protocol 2) torch.save writes for an OrderedDict of float32 tensors, storages '0', '1', ... */
function statePickle(names: string[], tensors: Map<string, Tensor>): Uint8Array {
  const w = new PickleWriter();
  w.byte(0x80, 2);
  w.global('collections', 'OrderedDict'); w.byte(0x29, 0x52); // OrderedDict()
  w.byte(0x28); // MARK
  names.forEach((name, i) => {
    const t = tensors.get(name)!;
    const stride = t.shape.map((_, d) => t.shape.slice(d + 1).reduce((a, b) => a * b, 1));
    w.str(name);
    w.global('torch._utils', '_rebuild_tensor_v2');
    w.byte(0x28); // MARK (arguments)
    w.byte(0x28); w.str('storage'); w.global('torch', 'FloatStorage'); w.str(String(i)); w.str('cpu'); w.int(t.size); w.byte(0x74); w.byte(0x51); // persistent id
    w.int(0); w.tuple(t.shape); w.tuple(stride); w.byte(0x89);
    w.global('collections', 'OrderedDict'); w.byte(0x29, 0x52); // backward hooks
    w.byte(0x74, 0x52); // TUPLE, REDUCE
  });
  w.byte(0x75, 0x2e); // SETITEMS, STOP
  return w.bytes();
}

/** A zip archive of stored entries, each entry's data aligned to 64 bytes as PyTorch aligns them. */
function zipStored(files: [string, Uint8Array][]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of files) {
    const nameBytes = Buffer.from(name, 'utf8');
    let pad = (64 - ((offset + 30 + nameBytes.length + 4) % 64)) % 64;
    const extra = Buffer.alloc(4 + pad);
    extra.writeUInt16LE(0x4246, 0); extra.writeUInt16LE(pad, 2); extra.fill(0x5a, 4); // 'FB' padding record, as PyTorch writes
    const crc = crc32(data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(0, 6); local.writeUInt16LE(0, 8);
    local.writeUInt32LE(crc, 14); local.writeUInt32LE(data.length, 18); local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26); local.writeUInt16LE(extra.length, 28);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0); cd.writeUInt16LE(20, 4); cd.writeUInt16LE(20, 6);
    cd.writeUInt32LE(crc, 16); cd.writeUInt32LE(data.length, 20); cd.writeUInt32LE(data.length, 24);
    cd.writeUInt16LE(nameBytes.length, 28); cd.writeUInt32LE(offset, 42);
    central.push(cd, nameBytes);
    parts.push(local, nameBytes, extra, data);
    offset += 30 + nameBytes.length + extra.length + data.length;
    pad = 0;
    if (offset > 0xffffffff) throw new Error('savePth: the archive would exceed 4 GiB (zip64 is not written)');
  }
  const cdSize = central.reduce((a, b) => a + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(files.length, 8); end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(cdSize, 12); end.writeUInt32LE(offset, 16);
  return [...parts, ...central, end];
}

/**
 * A state dict as torch.save writes it (zip, stored entries, pickle protocol 2, one float32 storage per
 * tensor): `torch.load` gives an OrderedDict that `load_state_dict(..., strict=True)` accepts.
 */
export function serializePth(tensors: Map<string, Tensor>, archiveName = 'archive'): Uint8Array[] {
  const names = [...tensors.keys()];
  const files: [string, Uint8Array][] = [[`${archiveName}/data.pkl`, statePickle(names, tensors)]];
  names.forEach((n, i) => {
    const d = tensors.get(n)!.data;
    files.push([`${archiveName}/data/${i}`, new Uint8Array(d.buffer, d.byteOffset, d.byteLength)]);
  });
  files.push([`${archiveName}/version`, Buffer.from('3\n')]);
  return zipStored(files);
}

/** Writes a state dict as a .pth file (atomically). */
export function savePth(path: string, tensors: Map<string, Tensor>): void {
  writeFileAtomic(path, serializePth(tensors));
}
