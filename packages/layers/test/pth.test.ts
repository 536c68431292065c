// PyTorch .pth files (test/fixtures/pth, written by test/pytorch/make_pth_fixtures.py with torch 1.13): every
// tensor read equals PyTorch's values; refusals name the file and what was found; our writer's output is the
// committed file that PyTorch loaded strictly; random and truncated bytes fail cleanly.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng, Tensor } from '@convnet/tensor';
import { expectCleanly, fuzzVariants } from '../../../test/helpers/fuzz.js';
import {
  Conv2d, Flatten, Linear, PthError, ReLU, SafetensorsError, Sequential, loadPth, loadStateDictFile, parsePth,
  parseStateDictFile, pthStateDict, saveSafetensors, serializePth, unpickle,
} from '../src/index.js';

const dir = new URL('../../../test/fixtures/pth/', import.meta.url).pathname;
type Want = Record<string, { shape: number[]; dtype: string; data: number[] }>;
const expected: Record<string, Want> & { convnet_written: { type: string; strict_load: string; tensors: Want } } =
  JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
const bytes = (name: string) => new Uint8Array(readFileSync(join(dir, name)));
const concat = (parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));

function expectEqual(sd: Map<string, Tensor>, want: Want) {
  expect([...sd.keys()]).toEqual(Object.keys(want).sort((a, b) => [...sd.keys()].indexOf(a) - [...sd.keys()].indexOf(b)));
  expect(sd.size).toBe(Object.keys(want).length);
  for (const [k, w] of Object.entries(want)) {
    const t = sd.get(k)!;
    expect(t, k).toBeDefined();
    expect([...t.shape], k).toEqual(w.shape);
    expect(Array.from(t.data), k).toEqual(w.data.map(Math.fround));
  }
}

describe('reading torch.save files', () => {
  const files = ['zip-f32.pth', 'legacy-f32.pth', 'zip-f16.pth', 'zip-bf16.pth', 'legacy-f64.pth', 'zip-views.pth', 'legacy-views.pth', 'checkpoint.pth', 'parameters.pth'];
  for (const f of files)
    it(`${f}: every tensor equals PyTorch's`, () => {
      const { stateDict, format } = loadStateDictFile(join(dir, f));
      expect(format).toBe(f.startsWith('legacy') ? 'pth-legacy' : 'pth-zip');
      expectEqual(stateDict, expected[f]);
    });

  it('keys keep the file order; a module state dict loads into our module', () => {
    const sd = loadPth(join(dir, 'zip-f32.pth'));
    expect([...sd.keys()]).toEqual([
      'features.0.weight', 'features.0.bias', 'features.1.weight', 'features.1.bias', 'features.1.running_mean',
      'features.1.running_var', 'features.1.num_batches_tracked', 'classifier.1.weight', 'classifier.1.bias',
    ]);
    const net = new Sequential({ features: new Sequential([new Conv2d(3, 4, 3)]), classifier: new Sequential([new Flatten(), new Linear(16, 3)]) });
    net.loadStateDict(sd, { strict: false });
    expect(Array.from(net.stateDict().get('classifier.1.bias')!.data)).toEqual(expected['zip-f32.pth']['classifier.1.bias'].data.map(Math.fround));
  });

  it('shared storages are read once and each view applies its own offset and strides', () => {
    const f = parsePth(bytes('zip-views.pth'), 'zip-views.pth');
    // transposed, sliced, row and shared_whole share one storage; expanded, scalar, empty have their own
    expect(f.storages.size).toBe(4);
  });

  it('the format is told by content, not by the extension', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'convnet-pth-'));
    const asSt = join(tmp, 'weights.safetensors');
    writeFileSync(asSt, bytes('zip-f32.pth'));
    expect(loadStateDictFile(asSt).format).toBe('pth-zip');
    const asPth = join(tmp, 'weights.pth');
    saveSafetensors(asPth, new Map([['w', Tensor.from([1, 2], [2])]]));
    expect(loadStateDictFile(asPth)).toMatchObject({ format: 'safetensors' });
    writeFileSync(join(tmp, 'text.pth'), 'hello, this is not a model');
    expect(() => loadStateDictFile(join(tmp, 'text.pth'))).toThrow(`${join(tmp, 'text.pth')}: not a valid safetensors file`);
    expect(() => loadStateDictFile(join(tmp, 'text.pth'))).toThrow('nor is it a PyTorch .pth/.pt file');
  });
});

describe('refusals: one line naming the file and what was found', () => {
  it('a pickle that names os.system is refused by name, and nothing runs', () => {
    expect(() => parseStateDictFile(bytes('evil.pth'), 'evil.pth')).toThrow(
      "evil.pth: data.pkl: names the global 'posix.system', which is not part of a state dict; refused (this reader never imports or runs anything a file names)");
  });

  it('any global outside the allow-list is refused (builtins.eval, torch.load, __reduce__ tricks)', () => {
    for (const g of ['builtins\neval', 'torch\nload', 'subprocess\nPopen', 'torch._utils\n_rebuild_qtensor', 'numpy.core.multiarray\n_reconstruct']) {
      const pkl = Buffer.concat([Buffer.from([0x80, 2, 0x63]), Buffer.from(`${g}\n`), Buffer.from([0x29, 0x52, 0x2e])]);
      expect(() => unpickle(pkl, 'x.pth', 'data.pkl', () => null)).toThrow(`x.pth: data.pkl: names the global '${g.replace('\n', '.')}'`);
    }
  });

  it('opcodes outside the subset are named', () => {
    // INST ('i') would instantiate a class by name in Python
    const pkl = Buffer.from('\x80\x02ios\nsystem\n.', 'latin1');
    expect(() => unpickle(pkl, 'x.pth', 'data.pkl', () => null)).toThrow("x.pth: data.pkl: opcode 0x69 ('i') at byte 2 is outside the subset state dicts use");
  });

  it('truncated zips', () => {
    const b = bytes('zip-f32.pth');
    expect(() => parseStateDictFile(b.subarray(0, b.length - 10), 'w.pth')).toThrow('w.pth: not a complete zip archive (no end-of-central-directory record): truncated?');
    expect(() => parseStateDictFile(b.subarray(0, 1000), 'w.pth')).toThrow('w.pth: not a complete zip archive');
    // the directory survives, a storage's bytes do not
    const holed = new Uint8Array(b);
    holed.fill(0, 1200, 1300);
    expect(() => parseStateDictFile(holed, 'w.pth')).toThrow(/^w\.pth: zip entry '.*' (fails its CRC check: corrupt|: no local header)/);
  });

  it('a truncated legacy file', () => {
    const b = bytes('legacy-f32.pth');
    expect(() => parseStateDictFile(b.subarray(0, b.length - 3), 'l.pth')).toThrow(/^l\.pth: legacy storage \d+ needs \d+ bytes at \d+ of a \d+-byte file: truncated$/);
  });

  it('a storage shorter than its tensor names the key', () => {
    const f = parsePth(bytes('zip-f32.pth'), 'w.pth');
    const key = [...f.storages.keys()][0];
    f.storages.set(key, f.storages.get(key)!.subarray(0, 8));
    expect(() => pthStateDict(f, 'w.pth')).toThrow("w.pth: 'features.0.weight': storage 0 holds 2 elements, the pickle says 108: truncated?");
  });

  it('a view reaching past its storage names the key', () => {
    // a hand-written pickle: a 2x3 tensor at offset 2 of a 6-element storage
    const sd = new Map([['a', Tensor.from([1, 2, 3, 4, 5, 6], [2, 3])]]);
    const file = concat(serializePth(sd));
    const f = parsePth(file, 'v.pth');
    const t = (f.object as { map: Map<string, { offset: number }> }).map.get('a')!;
    Object.defineProperty(t, 'offset', { value: 2 });
    expect(() => pthStateDict(f, 'v.pth')).toThrow("v.pth: 'a': shape [2,3], stride [3,1] and offset 2 reach element 7 of a 6-element storage");
  });

  it('a file without tensors, or with a non-tensor entry', () => {
    const evilFree = serializePth(new Map());
    expect(() => parseStateDictFile(concat(evilFree), 'e.pth')).toThrow("e.pth: holds a dict without tensors (keys: none)");
  });
});

describe('writing .pth files', () => {
  it('our writer gives the committed file that PyTorch loaded with load_state_dict(strict=True)', () => {
    const sd = loadPth(join(dir, 'zip-f32.pth'));
    const out = concat(serializePth(sd));
    // make_pth_fixtures.py loads convnet-written.pth into the module strictly and records the values it read
    expect(Buffer.compare(out, Buffer.from(bytes('convnet-written.pth')))).toBe(0);
    expect(expected.convnet_written.type).toBe('OrderedDict');
    expect(expected.convnet_written.strict_load).toBe('<All keys matched successfully>');
    expectEqual(sd, expected.convnet_written.tensors);
  });

  it('round trip: shapes (scalar, empty, 4-d) and values survive', () => {
    const rng = new Rng(3, 0);
    const sd = new Map<string, Tensor>([
      ['conv.weight', new Tensor(rng.normal(24), [2, 3, 2, 2])],
      ['s', Tensor.from([0.25], [])],
      ['e', Tensor.zeros([0, 4])],
      ['big', Tensor.from(Array.from({ length: 70000 }, (_, i) => i), [70000])],
    ]);
    const back = parseStateDictFile(concat(serializePth(sd)), 'r.pth').stateDict;
    for (const [k, t] of sd) {
      expect([...back.get(k)!.shape]).toEqual([...t.shape]);
      expect(back.get(k)!.data).toEqual(t.data);
    }
  });
});

describe('fuzzing the .pth reader', () => {
  const rng = new Rng(1606, 16);
  const variants = (valid: Uint8Array, count: number) => fuzzVariants(valid, count, rng);
  const ours = (e: Error) => e instanceof PthError || e instanceof SafetensorsError || /not a state-dict file/.test(e.message);
  const clean = (f: () => unknown) => expectCleanly(f, ours);

  it('zip, legacy and bare pickles: a result or a clean error, never a crash or hang', () => {
    const t0 = Date.now();
    for (const name of ['zip-f32.pth', 'legacy-views.pth', 'checkpoint.pth'])
      for (const v of variants(bytes(name), 300)) clean(() => parseStateDictFile(v, name));
    // the pickle alone, with byte flips that land on opcodes and lengths
    const f = parsePth(bytes('zip-views.pth'), 'p');
    void f;
    const pkl = Buffer.from(readFileSync(join(dir, 'legacy-views.pth')));
    for (const v of variants(pkl.subarray(0, 400), 600)) clean(() => unpickle(v, 'p', 'data.pkl', () => ({ dtype: 'F32', key: '0', numel: 4 })));
    expect(Date.now() - t0).toBeLessThan(20_000);
  });
});
