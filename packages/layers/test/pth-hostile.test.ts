// Hostile .pth files, generated here: each is refused with one line naming the file, quickly and without
// allocating what the file claims (memoised structures in error text, deep nesting, broadcast and overlapping
// views, views sharing one storage many times, deflated zip bombs), and a seeded fuzz loop over them.
import { crc32, deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Rng, Tensor } from '@convnet/tensor';
import { expectCleanly, fuzzVariants } from '../../../test/helpers/fuzz.js';
import { PthError, SafetensorsError, parseStateDictFile, serializePth } from '../src/index.js';

/** Pickle bytes, protocol 2, from opcodes and operands. */
class Pickle {
  readonly b: number[] = [0x80, 2];
  op(...x: number[]) { this.b.push(...x); return this; }
  str(s: string) { const u = Buffer.from(s); return this.op(0x58, ...u32(u.length), ...u); }
  int(n: number) { return n < 2 ** 31 ? this.op(0x4a, ...u32(n)) : this.op(0x8a, 8, ...u64(n)); }
  global(m: string, n: string) { return this.op(0x63, ...Buffer.from(`${m}\n${n}\n`, 'latin1')); }
  tuple(xs: number[]) { this.op(0x28); for (const x of xs) this.int(x); return this.op(0x74); }
  /** _rebuild_tensor_v2(storage(key, numel), offset, shape, stride, False, OrderedDict()) on the stack. */
  tensor(key: string, numel: number, offset: number, shape: number[], stride: number[]) {
    this.global('torch._utils', '_rebuild_tensor_v2').op(0x28);
    this.op(0x28).str('storage').global('torch', 'FloatStorage').str(key).str('cpu').int(numel).op(0x74, 0x51);
    this.int(offset).tuple(shape).tuple(stride).op(0x89).global('collections', 'OrderedDict').op(0x29, 0x52);
    return this.op(0x74, 0x52);
  }
  /** An OrderedDict of `entries` (each pushes its value), then STOP. */
  dict(entries: [string, (p: Pickle) => void][]) {
    this.global('collections', 'OrderedDict').op(0x29, 0x52, 0x28);
    for (const [k, v] of entries) { this.str(k); v(this); }
    return this.op(0x75, 0x2e);
  }
  bytes() { return Uint8Array.from(this.b); }
}
const u32 = (n: number) => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];
const u64 = (n: number) => { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(n)); return [...b]; };

/** A zip archive of entries, stored (method 0) or deflated (8), with a declared size that may lie. */
function zip(files: { name: string; data: Uint8Array; deflate?: boolean; size?: number }[]): Uint8Array {
  const parts: Buffer[] = [], central: Buffer[] = [];
  let off = 0;
  for (const f of files) {
    const name = Buffer.from(f.name), body = f.deflate ? deflateRawSync(f.data) : Buffer.from(f.data);
    const size = f.size ?? f.data.length, crc = crc32(f.data) >>> 0, method = f.deflate ? 8 : 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14); local.writeUInt32LE(body.length, 18); local.writeUInt32LE(size, 22); local.writeUInt16LE(name.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0); cd.writeUInt16LE(20, 4); cd.writeUInt16LE(20, 6); cd.writeUInt16LE(method, 10);
    cd.writeUInt32LE(crc, 16); cd.writeUInt32LE(body.length, 20); cd.writeUInt32LE(size, 24); cd.writeUInt16LE(name.length, 28); cd.writeUInt32LE(off, 42);
    parts.push(local, name, body);
    central.push(cd, name);
    off += 30 + name.length + body.length;
  }
  const cdSize = central.reduce((a, b) => a + b.length, 0), end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(files.length, 8); end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(cdSize, 12); end.writeUInt32LE(off, 16);
  return new Uint8Array(Buffer.concat([...parts, ...central, end]));
}
const pth = (pkl: Uint8Array, storages: [string, Uint8Array][] = []) =>
  zip([{ name: 'a/data.pkl', data: pkl }, ...storages.map(([k, d]) => ({ name: `a/data/${k}`, data: d })), { name: 'a/version', data: Buffer.from('3\n') }]);

/** Parses `buf` as hostile.pth: must throw one line naming the file, matching `re`, within `ms`. */
function refused(buf: Uint8Array, re: RegExp, ms = 1000): string {
  const t0 = performance.now();
  let msg = '';
  try {
    parseStateDictFile(buf, 'hostile.pth');
  } catch (e) {
    expect(e).toBeInstanceOf(PthError);
    msg = (e as Error).message;
  }
  expect(performance.now() - t0).toBeLessThan(ms);
  expect(msg).toMatch(/^hostile\.pth: /);
  expect(msg).toMatch(re);
  expect(msg).not.toMatch(/\n/);
  expect(msg.length).toBeLessThan(600);
  return msg;
}

/** A tuple shared by itself `depth` times over (memo 0 rewritten each level): 2^depth leaves, a few bytes each. */
function memoTuples(depth: number): Pickle {
  const p = new Pickle().str('x').op(0x71, 0);
  for (let i = 0; i < depth; i++) p.op(0x68, 0, 0x68, 0, 0x86, 0x71, 0);
  return p;
}

describe('hostile .pth files', () => {
  it('a persistent id of memoised tuples 40 levels deep: a short error at once (it rendered 2^40 leaves)', () => {
    const p = memoTuples(40).op(0x51, 0x2e).bytes();
    const file = pth(p);
    expect(file.length).toBeLessThan(700);
    refused(file, /persistent id \[\[\[.*\.\.\..* is not a storage$/);
  });

  it('a persistent id nested 200,000 tuples deep: the file named, no "Maximum call stack size exceeded"', () => {
    const p = new Pickle().str('x');
    for (let i = 0; i < 200_000; i++) p.op(0x85);
    refused(pth(p.op(0x51, 0x2e).bytes()), /persistent id .* is not a storage$/);
    // nested as a dict value instead
    const q = new Pickle().global('collections', 'OrderedDict').op(0x29, 0x52).str('a').str('x');
    for (let i = 0; i < 200_000; i++) q.op(0x85);
    refused(pth(q.op(0x73, 0x2e).bytes()), /holds a dict without tensors|is a tuple\/list, not a tensor/);
  });

  it('a stride-0 view of one element as 2^28 elements is refused before allocating (it cost 22 s and 1.2 GB)', () => {
    const pkl = new Pickle().dict([['w', (p) => p.tensor('0', 1, 0, [2 ** 28], [0])]]).bytes();
    const file = pth(pkl, [['0', new Uint8Array(4)]]);
    expect(file.length).toBeLessThan(1024);
    refused(file, /tensors hold more than 1048584 elements, over twice what its 4 bytes of storage hold \(at 'w'\)/, 200);
    // stride 0 over a size-1 dimension, and a small broadcast (torch.save keeps expand()'s layout), are read
    const ok = new Pickle().dict([['w', (p) => p.tensor('0', 3, 0, [1, 3], [0, 1])], ['e', (p) => p.tensor('0', 3, 0, [2, 3], [0, 1])]]).bytes();
    const sd = parseStateDictFile(pth(ok, [['0', new Uint8Array(Float32Array.from([1, 2, 3]).buffer)]]), 'ok.pth').stateDict;
    expect([...sd.get('w')!.data]).toEqual([1, 2, 3]);
    expect([...sd.get('e')!.data]).toEqual([1, 2, 3, 1, 2, 3]);
  });

  it('overlapping strides (many elements in one place) are refused', () => {
    const pkl = new Pickle().dict([['w', (p) => p.tensor('0', 2000, 0, [1000, 1000], [1, 1])]]).bytes();
    refused(pth(pkl, [['0', new Uint8Array(8000)]]), /'w': shape \[1000,1000\] with stride \[1,1\] puts several elements in one place/);
    // a transposed (non-contiguous, non-overlapping) view is read
    const t = new Pickle().dict([['w', (p) => p.tensor('0', 6, 0, [3, 2], [1, 3])]]).bytes();
    const sd = parseStateDictFile(pth(t, [['0', new Uint8Array(Float32Array.from([1, 2, 3, 4, 5, 6]).buffer)]]), 't.pth').stateDict;
    expect([...sd.get('w')!.data]).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it('many tensors viewing one storage past the element budget are refused before any is materialised', () => {
    const entries: [string, (p: Pickle) => void][] = [];
    for (let i = 0; i < 100; i++) entries.push([`w${i}`, (p) => p.tensor('0', 100_000, 0, [100_000], [1])]);
    refused(pth(new Pickle().dict(entries).bytes(), [['0', new Uint8Array(400_000)]]), /tensors hold more than 1848576 elements, over twice what its 400000 bytes of storage hold/);
  });

  it('a deflated data.pkl that would inflate past 64:1 is refused before inflating; an honest deflated file is read', () => {
    const pad = new Uint8Array(64 << 20); // 64 MiB of zeros after the pickle: deflates about 1000:1
    const pkl = new Pickle().dict([]).bytes();
    const data = new Uint8Array(pkl.length + pad.length);
    data.set(pkl);
    refused(zip([{ name: 'a/data.pkl', data, deflate: true }]), /zip entry 'a\/data\.pkl' would inflate \d+ bytes to 67108\d+ \(over 64:1\): refused as a zip bomb/);
    // a re-zipped (deflated) torch.save file of real weights still loads
    const w = new Tensor(Float32Array.from({ length: 64 }, (_, i) => Math.sin(i)), [8, 8]);
    const entries = [new Uint8Array(Buffer.concat(serializePth(new Map([['w', w]])).map((x) => Buffer.from(x))))];
    const stored = parseStateDictFile(entries[0], 's.pth').stateDict;
    const pickle = new Pickle().dict([['w', (p) => p.tensor('0', 64, 0, [8, 8], [8, 1])]]).bytes();
    const deflated = zip([{ name: 'a/data.pkl', data: pickle, deflate: true }, { name: 'a/data/0', data: new Uint8Array(w.data.buffer), deflate: true }]);
    expect([...parseStateDictFile(deflated, 'd.pth').stateDict.get('w')!.data]).toEqual([...stored.get('w')!.data]);
  });

  it('fuzzing the hostile files (seeded): each a result or one clean line, all within seconds', () => {
    const rng = new Rng(2323, 5);
    const seeds = [
      pth(memoTuples(30).op(0x51, 0x2e).bytes()),
      pth(new Pickle().dict([['w', (p) => p.tensor('0', 1, 0, [2 ** 20], [0])]]).bytes(), [['0', new Uint8Array(4)]]),
      pth(new Pickle().dict([['w', (p) => p.tensor('0', 6, 0, [3, 2], [1, 3])]]).bytes(), [['0', new Uint8Array(24)]]),
    ];
    const ours = (e: Error) => e instanceof PthError || e instanceof SafetensorsError;
    const t0 = performance.now();
    let cases = 0;
    for (const s of seeds) {
      for (const v of fuzzVariants(s, 400, rng)) {
        const t = performance.now();
        expectCleanly(() => parseStateDictFile(v, 'fuzz.pth'), ours);
        expect(performance.now() - t).toBeLessThan(1000);
        cases++;
      }
    }
    expect(cases).toBe(3 * 401);
    expect(performance.now() - t0).toBeLessThan(20_000);
  });
});
