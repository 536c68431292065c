/**
 * Every reader on random and truncated bytes (seeded, bounded; the mutations and the check are test/helpers/fuzz.ts,
 * shared with the .pth reader's tests): each case returns a valid result or throws a DataError with a one-line
 * message; nothing else (no TypeError/RangeError from inside a parser, no hang).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { Rng } from '@convnet/tensor';
import { expectCleanly as cleanly, expectCleanlyAsync as cleanlyAsync, fuzzVariants, randomBytes as fuzzRandomBytes } from '../../../test/helpers/fuzz.js';
import {
  DataError, decodeImage, Loader, maybeGunzip, pack, PackedDataset, parseCifar, parseDevkitMapping, parseIdx,
  parseLocValSolution, parsePackIndex, parseSynsetMapping, parseValGroundTruth,
} from '@convnet/imagenet';

const rng = new Rng(2024, 7);
const randomBytes = (n: number) => fuzzRandomBytes(rng, n);
/** Mutations of a valid input: truncations, random byte flips, random garbage of similar length. */
const variants = (valid: Uint8Array, count: number) => fuzzVariants(valid, count, rng);
const isDataError = (e: Error) => e instanceof DataError;
const expectCleanly = (f: () => unknown) => cleanly(f, isDataError);
const expectCleanlyAsync = (f: () => Promise<unknown>) => cleanlyAsync(f, isDataError);
const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');
/** Each fuzz test must end well within this (a hang fails it instead of stalling CI). */
const BOUND_MS = 20_000;

describe('fuzzing the readers', () => {
  it('IDX (plain and gzipped)', () => {
    const valid = new Uint8Array([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8]);
    for (const v of variants(valid, 300)) expectCleanly(() => parseIdx(maybeGunzip(v)));
    for (const v of variants(gzipSync(valid), 200)) expectCleanly(() => parseIdx(maybeGunzip(v)));
    // A header claiming 2^32 × 2^32 elements must not allocate anything.
    expectCleanly(() => parseIdx(new Uint8Array([0, 0, 13, 2, 255, 255, 255, 255, 255, 255, 255, 255, 1, 2, 3])));
  }, BOUND_MS);
  it('CIFAR-10 and CIFAR-100', () => {
    const valid = randomBytes(3 * 3073);
    for (let r = 0; r < 3; r++) valid[r * 3073] = r;
    for (const v of variants(valid, 120)) {
      expectCleanly(() => parseCifar(v));
      expectCleanly(() => parseCifar(v, { variant: 100 }));
    }
  }, BOUND_MS);
  it('label and name files', () => {
    const files: [Uint8Array, (t: string) => unknown][] = [
      [Buffer.from('n01440764 tench, Tinca tinca\nn01443537 goldfish\n'), parseSynsetMapping],
      [Buffer.from('ImageId,PredictionString\nILSVRC2012_val_00000001,n01751748 1 2 3 4\n'), parseLocValSolution],
      [Buffer.from('490\n361\n171\n'), (t) => parseValGroundTruth(t, 1000)],
      [Buffer.from('1 n01440764\n2 n01443537\n'), parseDevkitMapping],
    ];
    for (const [valid, parse] of files) for (const v of variants(valid, 150)) expectCleanly(() => parse(text(v)));
  }, BOUND_MS);
});

describe('fuzzing packs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'convnet-fuzz-'));
    const n = 6;
    const set = { images: randomBytes(n * 4 * 4 * 3), labels: Int32Array.from([0, 1, 2, 0, 1, 2]), n, height: 4, width: 4, channels: 3, classes: ['a', 'b', 'c'] };
    await pack(set, { out: join(dir, 'good'), shardSize: 4 });
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
  }, BOUND_MS);
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
  }, BOUND_MS);
});

describe('fuzzing images and packs read asynchronously', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'convnet-fuzz2-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const raw = { width: 24, height: 16, channels: 3 as const };
  const pixels = () => randomBytes(24 * 16 * 3);

  it('image files (JPEG, PNG): decodeImage gives an image or a DataError', async () => {
    const jpeg = new Uint8Array(await sharp(pixels(), { raw }).jpeg().toBuffer());
    const png = new Uint8Array(await sharp(pixels(), { raw }).png().toBuffer());
    for (const valid of [jpeg, png])
      for (const v of variants(valid, 60))
        await expectCleanlyAsync(async () => {
          const img = await decodeImage(v, { size: 8 });
          expect([img.height, img.width, img.channels]).toEqual([8, 8, 3]);
        });
  }, BOUND_MS);

  it('JPEG shards: mutated or truncated records give pixels or a DataError', async () => {
    const n = 5;
    const set = { images: randomBytes(n * 8 * 8 * 3), labels: Int32Array.from([0, 1, 0, 1, 0]), n, height: 8, width: 8, channels: 3, classes: ['a', 'b'] };
    const good = join(dir, 'jpeg');
    await pack(set, { out: good, shardSize: 8, encoding: 'jpeg' });
    const d = join(dir, 'jpeg-mut');
    cpSync(good, d, { recursive: true });
    const valid = readFileSync(join(good, 'shard-00000.bin'));
    for (const v of variants(valid, 60)) {
      writeFileSync(join(d, 'shard-00000.bin'), v);
      await expectCleanlyAsync(async () => {
        using ds = PackedDataset.open(d);
        for (let i = 0; i < ds.length; i++) expect((await ds.pixels(i)).length).toBe(8 * 8 * 3);
      });
    }
  }, BOUND_MS);

  it('shard sidecars: a corrupt or inconsistent one makes a re-run redo that shard, never use it', async () => {
    const n = 9;
    const set = { images: randomBytes(n * 4 * 4 * 3), labels: Int32Array.from({ length: n }, (_, i) => i % 3), n, height: 4, width: 4, channels: 3, classes: ['a', 'b', 'c'] };
    const out = join(dir, 'resume');
    const first = await pack(set, { out, shardSize: 4 });
    const sidecar = join(out, 'shard-00001.json');
    const valid = readFileSync(sidecar);
    const meta = JSON.parse(valid.toString());
    const edits = [
      ...variants(valid, 15).map((v) => Buffer.from(v)),
      Buffer.from(JSON.stringify({ ...meta, labels: meta.labels.slice(1) })),
      Buffer.from(JSON.stringify({ ...meta, lengths: meta.lengths.map(() => 1) })),
      Buffer.from(JSON.stringify({ ...meta, count: 'x' })),
      Buffer.from('null'),
    ];
    for (const e of edits) {
      writeFileSync(sidecar, e);
      const again = await pack(set, { out, shardSize: 4 });
      if (!e.equals(valid)) expect(again.resumedShards).toBe(again.shards - 1);
      expect(again.index.stats).toEqual(first.index.stats);
      using ds = PackedDataset.open(out);
      for (let i = 0; i < n; i++) expect(ds.pixelsSync(i)).toEqual(set.images.subarray(i * 48, i * 48 + 48));
    }
  }, BOUND_MS);

  it('a shard truncated under a running loader: the epoch fails with a DataError, no hang', async () => {
    const n = 12;
    const set = { images: randomBytes(n * 6 * 6 * 3), labels: new Int32Array(n), n, height: 6, width: 6, channels: 3, classes: ['a'] };
    const out = join(dir, 'loader');
    await pack(set, { out, shardSize: 4 });
    for (const workers of [0, 1]) {
      const loader = new Loader({ dataset: out, batchSize: 4, workers, prefetch: 1 });
      truncateSync(join(out, 'shard-00002.bin'), 10);
      await expect((async () => { for await (const b of loader.epoch(0)) b.release(); })()).rejects.toThrow(DataError);
      await loader.close();
      writeFileSync(join(out, 'shard-00002.bin'), set.images.subarray(8 * 108, 12 * 108));
    }
  }, BOUND_MS);
});
