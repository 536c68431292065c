// safetensors on disk: PyTorch's file (test/fixtures/state.safetensors) into a module, our files round-trip,
// corrupted copies of PyTorch's file (made in a temp dir) fail with errors that name the file and the problem.
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJson } from '../../../test/fixtures/load.mjs';
import { Tensor } from '@convnet/tensor';
import {
  Conv2d, Flatten, Linear, ReLU, Sequential, loadSafetensors, loadStateDictFile, parseSafetensors, saveSafetensors, toFloat32,
} from '../src/index.js';

const pytorchFile = new URL('../../../test/fixtures/state.safetensors', import.meta.url).pathname;
const want: Record<string, { dtype: string; shape: number[]; data: number[] }> = readJson('state.json');
const tmp = () => mkdtempSync(join(tmpdir(), 'convnet-st-'));

/** The module whose state dict PyTorch's file holds (plus an extra I64 entry). */
const makeNet = () =>
  new Sequential({ features: new Sequential([new Conv2d(3, 4, 3), new ReLU()]), classifier: new Sequential([new Flatten(), new Linear(6, 2)]) });

/** A safetensors buffer from a header object (or raw header text) and a data section. */
function build(header: object | string, data: Uint8Array | number[]): Buffer {
  const json = typeof header === 'string' ? header : JSON.stringify(header);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([head, Buffer.from(json), Buffer.from(data as Uint8Array)]);
}

describe('a file written by PyTorch', () => {
  it('loads into a module by name; strict loading names the extra entry', () => {
    const { stateDict } = loadStateDictFile(pytorchFile);
    const net = makeNet();
    expect(() => net.loadStateDict(stateDict)).toThrow('loadStateDict: unexpected: num_batches_tracked');
    net.loadStateDict(stateDict, { strict: false });
    for (const [name, t] of net.stateDict()) {
      expect(t.shape).toEqual(want[name].shape);
      want[name].data.forEach((v, i) => expect(t.data[i], `${name}[${i}]`).toBe(Math.fround(v)));
    }
  });

  it('re-saved by us, loads with the same values (F16 and I64 become F32)', () => {
    const dir = tmp();
    const { stateDict } = loadStateDictFile(pytorchFile);
    const file = join(dir, 'resaved.safetensors');
    saveSafetensors(file, stateDict, { format: 'pt' });
    const back = loadSafetensors(file);
    expect([...back.tensors.keys()]).toEqual([...stateDict.keys()].sort());
    for (const [k, t] of back.tensors) {
      expect(t.dtype).toBe('F32');
      expect(Array.from(toFloat32(t).data)).toEqual(Array.from(stateDict.get(k)!.data));
    }
    expect(readdirSync(dir)).toEqual(['resaved.safetensors']); // no temp file left behind
  });
});

describe('corrupted copies of the PyTorch file', () => {
  const original = readFileSync(pytorchFile);
  const headerLen = Number(original.readBigUInt64LE(0));
  const variant = (name: string, bytes: Buffer) => {
    const file = join(tmp(), name);
    writeFileSync(file, bytes);
    return file;
  };
  const headerText = original.subarray(8, 8 + headerLen).toString();
  const withHeaderEdit = (from: string, to: string) => {
    expect(to.length).toBe(from.length); // same length: the data section stays where it was
    expect(headerText).toContain(from);
    const b = Buffer.from(original);
    b.write(headerText.replace(from, to), 8);
    return b;
  };
  const cases: [string, () => Buffer, RegExp][] = [
    ['truncated-data', () => original.subarray(0, original.length - 10), /ends at byte 516 of a 506-byte data section: truncated\?/],
    ['truncated-header', () => original.subarray(0, 100), /header length 480 exceeds the file \(100 bytes\): truncated\?/],
    ['truncated-length', () => original.subarray(0, 5), /only 5 bytes/],
    ['bad-json', () => withHeaderEdit('"shape": [2],', '"shape": [2] '), /header is not valid JSON/],
    ['not-utf8', () => { const b = Buffer.from(original); b[9] = 0xff; return b; }, /header is not valid JSON/],
    ['unknown-dtype', () => withHeaderEdit('"dtype": "F16"', '"dtype": "Q16"'), /tensor 'classifier.1.bias' has unknown dtype "Q16"/],
    ['wrong-size', () => withHeaderEdit('"data_offsets": [0, 4]', '"data_offsets": [0, 6]'), /'classifier.1.bias' \(F16 \[2\]\) needs 4 bytes, its offsets span 6/],
    ['overlap', () => withHeaderEdit('"data_offsets": [4, 52]', '"data_offsets": [8, 56]'), /overlap/],
    ['gap', () => withHeaderEdit('"data_offsets": [0, 4]', '"data_offsets": [2, 6]'), /overlap|gap/],
    ['trailing-bytes', () => Buffer.concat([original, Buffer.alloc(8)]), /tensors end at byte 516 of a 524-byte data section \(8 bytes left over\)/],
    ['huge-length', () => { const b = Buffer.from(original); b.writeBigUInt64LE(2n ** 60n, 0); return b; }, /header length \d+ exceeds the file/],
    ['bad-shape', () => withHeaderEdit('"shape": [2, 6]', '"shape": [2,-6]'), /'classifier.1.weight' has an invalid shape/],
    ['header-array', () => build('[1, 2, 3]', []), /header is not a JSON object/],
  ];
  for (const [name, make, err] of cases) {
    it(name, () => {
      const file = variant(`${name}.safetensors`, make());
      expect(() => loadStateDictFile(file)).toThrow(err);
      expect(() => loadStateDictFile(file)).toThrow(`${file}: not a valid safetensors file:`);
    });
  }

  it('a missing file and a directory give read errors naming the path', () => {
    const dir = tmp();
    expect(() => loadStateDictFile(join(dir, 'nope.safetensors'))).toThrow(`${join(dir, 'nope.safetensors')}: cannot read (ENOENT)`);
    expect(() => loadStateDictFile(dir)).toThrow(`${dir}: cannot read (EISDIR)`);
  });
});

describe('format details', () => {
  it('holes between tensors are refused (the format requires the data section to be tiled exactly)', () => {
    const buf = build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, new Uint8Array(12));
    expect(() => parseSafetensors(buf, 'h.safetensors')).toThrow("h.safetensors: not a valid safetensors file: bytes [4, 8) of the data section belong to no tensor (a gap before 'b')");
  });

  it('dtypes F16 (normal, subnormal, inf, nan), BF16, F64, I32, U8 and BOOL convert to float32', () => {
    const f16 = [0x3c00, 0xc000, 0x0001, 0x7c00, 0xfc00, 0x7e00, 0x3555];
    const bf16 = [0x3f80, 0xc049, 0x0000, 0x7f80];
    const f64 = new Float64Array([Math.PI, -1e-3]);
    const i32 = new Int32Array([-5, 2 ** 30]);
    const parts = [new Uint8Array(new Uint16Array(f16).buffer), new Uint8Array(new Uint16Array(bf16).buffer), new Uint8Array(f64.buffer), new Uint8Array(i32.buffer), Uint8Array.from([0, 255]), Uint8Array.from([1, 0])];
    const names = ['h', 'b', 'd', 'i', 'u', 'z'], dtypes = ['F16', 'BF16', 'F64', 'I32', 'U8', 'BOOL'];
    let off = 0;
    const header: Record<string, unknown> = {};
    parts.forEach((p, k) => {
      header[names[k]] = { dtype: dtypes[k], shape: [p.length / ({ F16: 2, BF16: 2, F64: 8, I32: 4, U8: 1, BOOL: 1 } as Record<string, number>)[dtypes[k]]], data_offsets: [off, off + p.length] };
      off += p.length;
    });
    const file = join(tmp(), 'dtypes.safetensors');
    writeFileSync(file, build(header, Buffer.concat(parts)));
    const sd = loadStateDictFile(file).stateDict;
    expect(Array.from(sd.get('h')!.data)).toEqual([1, -2, 2 ** -24, Infinity, -Infinity, NaN, Math.fround(0.333251953125)]);
    expect(Array.from(sd.get('b')!.data)).toEqual([1, Math.fround(-3.140625), 0, Infinity]);
    expect(Array.from(sd.get('d')!.data)).toEqual([Math.fround(Math.PI), Math.fround(-1e-3)]);
    expect(Array.from(sd.get('i')!.data)).toEqual([-5, 2 ** 30]);
    expect(Array.from(sd.get('u')!.data)).toEqual([0, 255]);
    expect(Array.from(sd.get('z')!.data)).toEqual([1, 0]);
  });

  it('a valid but unsupported dtype is named as such', () => {
    const buf = build({ q: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, [0, 0]);
    expect(() => parseSafetensors(buf, 'q.safetensors')).toThrow("tensor 'q' has dtype F8_E4M3, which this reader does not support");
  });

  it('empty tensors and an empty state dict round-trip', () => {
    const dir = tmp();
    saveSafetensors(join(dir, 'a.safetensors'), new Map([['e', Tensor.zeros([0, 3])], ['s', Tensor.from([7])]]));
    const sd = loadStateDictFile(join(dir, 'a.safetensors')).stateDict;
    expect(sd.get('e')!.shape).toEqual([0, 3]);
    expect(sd.get('s')!.data[0]).toBe(7);
    saveSafetensors(join(dir, 'b.safetensors'), new Map());
    expect(loadStateDictFile(join(dir, 'b.safetensors')).stateDict.size).toBe(0);
  });

  it('saving is atomic: a failed save leaves the previous file intact and no temp file', () => {
    const dir = tmp();
    const file = join(dir, 'model.safetensors');
    saveSafetensors(file, new Map([['w', Tensor.from([1, 2, 3])]]));
    const before = readFileSync(file);
    expect(() => saveSafetensors(file, new Map([['w', Tensor.from([4])]]), { bad: 3 as unknown as string })).toThrow("metadata 'bad' must be a string");
    expect(() => saveSafetensors(file, new Map([['__metadata__', Tensor.from([4])]]))).toThrow("'__metadata__' is reserved");
    expect(readFileSync(file)).toEqual(before);
    expect(() => saveSafetensors(join(dir, 'no-such-dir', 'm.safetensors'), new Map())).toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  it('a copy of the PyTorch file parses the same from a buffer and from disk', () => {
    const dir = tmp();
    copyFileSync(pytorchFile, join(dir, 'copy.safetensors'));
    const a = loadSafetensors(join(dir, 'copy.safetensors'));
    const b = parseSafetensors(new Uint8Array(readFileSync(pytorchFile)));
    expect([...a.tensors.keys()]).toEqual([...b.tensors.keys()]);
    expect(a.metadata).toEqual(b.metadata);
  });
});
