/**
 * Every reader on random and truncated bytes (seeded, bounded): each case returns a valid result or throws
 * a DataError with a message; nothing else (no TypeError/RangeError from inside a parser, no hang).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@convnet/tensor';
import {
  DataError, maybeGunzip, pack, PackedDataset, parseCifar, parseDevkitMapping, parseIdx, parseLocValSolution,
  parsePackIndex, parseSynsetMapping, parseValGroundTruth,
} from '@convnet/imagenet';

const rng = new Rng(2024, 7);
function randomBytes(n: number): Uint8Array {
  return Uint8Array.from(rng.words(n), (w) => w & 255);
}
/** Mutations of a valid input: truncations, random byte flips, random garbage of similar length. */
function variants(validIn: Uint8Array, count: number): Uint8Array[] {
  const valid = new Uint8Array(validIn); // a copy (Buffer.slice would be a view)
  const out: Uint8Array[] = [new Uint8Array(0)];
  for (let k = 0; k < count; k++) {
    const mode = k % 3;
    if (mode === 0) out.push(valid.slice(0, rng.int(valid.length + 1)));
    else if (mode === 1) {
      const b = valid.slice();
      for (let f = 0; f <= rng.int(4); f++) b[rng.int(b.length)] = rng.int(256);
      out.push(b);
    } else out.push(randomBytes(rng.int(2 * valid.length + 8)));
  }
  return out;
}
function expectCleanly(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(e, String((e as Error)?.stack)).toBeInstanceOf(DataError);
    expect((e as Error).message.length).toBeGreaterThan(5);
  }
}
const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

describe('fuzzing the readers', () => {
  it('IDX (plain and gzipped)', () => {
    const valid = new Uint8Array([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8]);
    for (const v of variants(valid, 300)) expectCleanly(() => parseIdx(maybeGunzip(v)));
    for (const v of variants(gzipSync(valid), 200)) expectCleanly(() => parseIdx(maybeGunzip(v)));
    // A header claiming 2^32 × 2^32 elements must not allocate anything.
    expectCleanly(() => parseIdx(new Uint8Array([0, 0, 13, 2, 255, 255, 255, 255, 255, 255, 255, 255, 1, 2, 3])));
  });
  it('CIFAR-10 and CIFAR-100', () => {
    const valid = randomBytes(3 * 3073);
    for (let r = 0; r < 3; r++) valid[r * 3073] = r;
    for (const v of variants(valid, 120)) {
      expectCleanly(() => parseCifar(v));
      expectCleanly(() => parseCifar(v, { variant: 100 }));
    }
  });
  it('label and name files', () => {
    const files: [Uint8Array, (t: string) => unknown][] = [
      [Buffer.from('n01440764 tench, Tinca tinca\nn01443537 goldfish\n'), parseSynsetMapping],
      [Buffer.from('ImageId,PredictionString\nILSVRC2012_val_00000001,n01751748 1 2 3 4\n'), parseLocValSolution],
      [Buffer.from('490\n361\n171\n'), (t) => parseValGroundTruth(t, 1000)],
      [Buffer.from('1 n01440764\n2 n01443537\n'), parseDevkitMapping],
    ];
    for (const [valid, parse] of files) for (const v of variants(valid, 150)) expectCleanly(() => parse(text(v)));
  });
});

describe('fuzzing packs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'convnet-fuzz-'));
    const n = 6;
    await pack({ images: randomBytes(n * 4 * 4 * 3), labels: Int32Array.from([0, 1, 2, 0, 1, 2]), n, height: 4, width: 4, channels: 3, classes: ['a', 'b', 'c'] }, { out: join(dir, 'good'), shardSize: 4 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('index.json: parsePackIndex and open', () => {
    const valid = readFileSync(join(dir, 'good', 'index.json'));
    for (const v of variants(valid, 200)) expectCleanly(() => parsePackIndex(text(v)));
    // Structured mutations of fields that parse as JSON.
    const j = JSON.parse(text(valid));
    const muts: ((o: Record<string, unknown>) => void)[] = [
      (o) => { o.count = 7; }, (o) => { o.height = -1; }, (o) => { o.encoding = 'png'; }, (o) => { o.shards = []; },
      (o) => { (o.shards as { file: string }[])[0].file = '../../etc/passwd'; }, (o) => { o.labels = '/abs'; },
      (o) => { o.classes = []; }, (o) => { o.stats = null; }, (o) => { o.version = 2; }, (o) => { (o.shards as { bytes: number }[])[1].bytes = 1; },
      (o) => { o.classNames = ['x']; }, (o) => { o.records = 'labels.i32'; },
    ];
    for (const m of muts) {
      const o = structuredClone(j);
      m(o);
      const d = join(dir, 'mut');
      rmSync(d, { recursive: true, force: true });
      cpSync(join(dir, 'good'), d, { recursive: true });
      writeFileSync(join(d, 'index.json'), JSON.stringify(o));
      expect(() => PackedDataset.open(d)).toThrow(DataError);
    }
  });
  it('side files and shards: truncated, random or mutated bytes', () => {
    const good = join(dir, 'good');
    const d = join(dir, 'side');
    cpSync(good, d, { recursive: true });
    for (const f of ['labels.i32', 'records.u32', 'mean.f32', 'shard-00000.bin', 'shard-00001.bin']) {
      const valid = readFileSync(join(good, f));
      for (const v of variants(valid, 40)) {
        writeFileSync(join(d, f), v);
        expectCleanly(() => {
          using ds = PackedDataset.open(d);
          for (let i = 0; i < ds.length; i++) ds.pixelsSync(i);
        });
      }
      writeFileSync(join(d, f), valid);
    }
  });
});
