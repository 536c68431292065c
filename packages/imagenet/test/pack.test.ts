import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync, cpSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { crop, eigSymmetric } from '@convnet/augment';
import {
  decodeImage, DataError, ILSVRC2012_NAMES, ILSVRC2012_WNIDS, pack, PackedDataset, scanIlsvrc, scanImageFolder,
  type PackProgress, type PackReport,
} from '@convnet/imagenet';
import { devkitId, makeTree, NAMES, pattern, VAL_LABELS, WNIDS, type Tree } from './tree.js';

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs(a[i] - b[i]);
  return d / a.length;
}

let dir: string;
let tree: Tree;
let rawReport: PackReport;
const progress: PackProgress[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'convnet-pack-'));
  tree = await makeTree(join(dir, 'ilsvrc'));
  const list = scanIlsvrc(tree.root, 'train');
  rawReport = await pack(list, { out: join(dir, 'raw'), size: 64, shardSize: 5, workers: 2, onProgress: (p) => progress.push(p) });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('scanning', () => {
  it('ILSVRC train: sorted wnids, names from LOC_synset_mapping.txt, files sorted per class', () => {
    const list = scanIlsvrc(tree.root, 'train');
    expect(list.classes).toEqual(WNIDS);
    expect(list.classNames).toEqual(NAMES);
    expect(list.samples.length).toBe(tree.good.length + tree.bad.length);
    expect(scanImageFolder(join(tree.root, 'train')).classes).toEqual(WNIDS);
  });
  it('ILSVRC flat val labelled by LOC_val_solution.csv', () => {
    const list = scanIlsvrc(tree.root, 'val');
    const byFile = new Map(list.samples.map((s) => [s.path.split('/').pop(), s.label]));
    VAL_LABELS.forEach((l, i) => expect(byFile.get(`ILSVRC2012_val_${String(i + 1).padStart(8, '0')}.JPEG`)).toBe(l));
  });
  /** A copy of the tree's train/ and val/ (and the files named) under a new root. */
  function copyTree(name: string, files: string[] = []): string {
    const root = join(dir, name);
    mkdirSync(root);
    cpSync(join(tree.root, 'val'), join(root, 'val'), { recursive: true });
    cpSync(join(tree.root, 'train'), join(root, 'train'), { recursive: true });
    for (const f of files) cpSync(join(tree.root, f), join(root, f), { recursive: true });
    return root;
  }
  const valName = (i: number) => `ILSVRC2012_val_${String(i + 1).padStart(8, '0')}.JPEG`;
  function expectValLabels(list: { samples: { path: string; label: number }[] }, labels = VAL_LABELS): void {
    expect(list.samples.length).toBe(labels.length);
    const byFile = new Map(list.samples.map((s) => [s.path.split('/').pop(), s.label]));
    labels.forEach((l, i) => expect(byFile.get(valName(i)), valName(i)).toBe(l));
  }

  it('ILSVRC flat val labelled by the devkit ground truth: official ILSVRC2012_IDs through the built-in table', () => {
    const root = copyTree('devkit', ['ILSVRC2012_devkit_t12', 'LOC_synset_mapping.txt']);
    // The devkit ids of classes 0, 1, 2 are not 1, 2, 3: the table is meta.mat's order, not the sorted one.
    expect(WNIDS.map(devkitId)).toEqual([449, 450, 442]);
    const list = scanIlsvrc(root, 'val');
    expect(list.classes).toEqual(WNIDS);
    expect(list.classNames).toEqual(NAMES);
    expectValLabels(list);
    expect(scanIlsvrc(root, 'val', { devkitMapping: 'ilsvrc2012' }).samples).toEqual(list.samples);
  });
  it('ILSVRC flat val labelled by a ground truth in another numbering + an explicit id → wnid mapping', () => {
    const root = copyTree('devkit-own');
    const order = [WNIDS[2], WNIDS[0], WNIDS[1]]; // id 1 = WNIDS[2], id 2 = WNIDS[0], id 3 = WNIDS[1]
    const gt = join(root, 'ILSVRC2012_validation_ground_truth.txt');
    writeFileSync(gt, VAL_LABELS.map((l) => order.indexOf(WNIDS[l]) + 1).join('\n') + '\n');
    // The built-in table reads ids 1..3 as three other ILSVRC classes: a clear error, not silent mislabelling.
    expect(() => scanIlsvrc(root, 'val')).toThrow(/is labelled n\d{8}, which is not one of the 3 classes/);
    writeFileSync(join(root, 'map.txt'), order.map((w, i) => `${i + 1} ${w}`).reverse().join('\n'));
    const list = scanIlsvrc(root, 'val', { devkitMapping: join(root, 'map.txt') });
    expect(list.classes).toEqual(WNIDS);
    expectValLabels(list);
    expect(scanIlsvrc(root, 'val', { devkitMapping: order }).samples).toEqual(list.samples);
    // 'sorted': ids are positions in the sorted class list.
    writeFileSync(gt, VAL_LABELS.map((l) => l + 1).join('\n') + '\n');
    expectValLabels(scanIlsvrc(root, 'val', { devkitMapping: 'sorted' }));
    expect(() => scanIlsvrc(root, 'val', { devkitMapping: join(root, 'none.txt') })).toThrow(/none\.txt/);
  });
  it('ILSVRC val in class folders; names from synset_words.txt; the Kaggle layout', () => {
    const root = join(dir, 'folders');
    mkdirSync(root);
    cpSync(join(tree.root, 'train'), join(root, 'train'), { recursive: true });
    VAL_LABELS.forEach((l, i) => {
      mkdirSync(join(root, 'val', WNIDS[l]), { recursive: true });
      cpSync(join(tree.root, 'val', valName(i)), join(root, 'val', WNIDS[l], valName(i)));
    });
    writeFileSync(join(root, 'synset_words.txt'), WNIDS.map((w, i) => `${w} ${NAMES[i].toUpperCase()}`).join('\n'));
    const list = scanIlsvrc(root, 'val');
    expect(list.classes).toEqual(WNIDS);
    expect(list.classNames).toEqual(NAMES.map((n) => n.toUpperCase()));
    expectValLabels(list);
    // Kaggle: <root>/ILSVRC/Data/CLS-LOC/{train,val}, LOC_* files at the root.
    const kaggle = join(dir, 'kaggle');
    mkdirSync(join(kaggle, 'ILSVRC', 'Data', 'CLS-LOC'), { recursive: true });
    for (const d of ['train', 'val']) cpSync(join(tree.root, d), join(kaggle, 'ILSVRC', 'Data', 'CLS-LOC', d), { recursive: true });
    for (const f of ['LOC_val_solution.csv', 'LOC_synset_mapping.txt']) cpSync(join(tree.root, f), join(kaggle, f));
    expectValLabels(scanIlsvrc(kaggle, 'val'));
    expect(scanIlsvrc(kaggle, 'train').samples.length).toBe(tree.good.length + tree.bad.length);
  });
  it('without a synset file: names from the built-in list; a lone flat val gets the 1000 standard classes', () => {
    const root = copyTree('bare', ['ILSVRC2012_devkit_t12']);
    const train = scanIlsvrc(root, 'train');
    expect(train.classes).toEqual(WNIDS);
    expect(train.classNames).toEqual(NAMES); // the built-in names are the synset file's text
    rmSync(join(root, 'train'), { recursive: true });
    const val = scanIlsvrc(root, 'val');
    expect(val.classes).toEqual([...ILSVRC2012_WNIDS]);
    expect(val.classNames).toEqual([...ILSVRC2012_NAMES]);
    expectValLabels(val); // classes 0, 1, 2 are the first three of the 1000
  });
  it('clear errors for a missing directory', () => {
    expect(() => scanImageFolder(join(dir, 'nope'))).toThrow(/no such directory/);
    expect(() => scanIlsvrc(join(dir, 'nope'), 'train')).toThrow(DataError);
  });
});

describe('decoding', () => {
  it('greyscale, CMYK and PNG-in-.JPEG become 3-channel size×size images; truncated and empty fail clearly', async () => {
    for (const g of tree.good) {
      const img = await decodeImage(g.path, { size: 64 });
      expect([img.height, img.width, img.channels]).toEqual([64, 64, 3]);
    }
    const grey = await decodeImage(tree.good.find((g) => g.path.endsWith('grey.JPEG'))!.path, { size: 32 });
    for (let i = 0; i < grey.data.length; i += 3) expect(grey.data[i]).toBe(grey.data[i + 1]);
    const png = await decodeImage(tree.good.find((g) => g.path.endsWith('png.JPEG'))!.path, { size: 16 });
    expect(Math.abs(png.data[0] - 10)).toBeLessThan(3);
    expect(Math.abs(png.data[1] - 200)).toBeLessThan(3);
    await expect(decodeImage(tree.bad[0], { size: 32 })).rejects.toThrow(/cannot decode/);
    await expect(decodeImage(tree.bad[1], { size: 32 })).rejects.toThrow(/empty file/);
    const wide = await decodeImage(tree.good[0].path, { size: 40, crop: false });
    expect(Math.min(wide.height, wide.width)).toBe(40);
    const c = await decodeImage(tree.good[0].path, { size: 40, crop: 24 });
    expect([c.height, c.width]).toEqual([24, 24]);
  });
  it('the paper\'s preprocessing: shorter side to size, then the centre square (vs resize-then-crop in two steps)', async () => {
    for (const g of tree.good.slice(0, 6)) {
      const whole = await decodeImage(g.path, { size: 48, crop: false });
      expect(Math.min(whole.height, whole.width)).toBe(48);
      const { width, height } = await sharp(g.path).metadata();
      expect(Math.max(whole.height, whole.width)).toBe(Math.round((48 * Math.max(width!, height!)) / Math.min(width!, height!)));
      // The window starts at ⌈margin / 2⌉ (libvips' one-pass crop; the other decode paths follow it).
      const want = crop(whole, Math.ceil((whole.height - 48) / 2), Math.ceil((whole.width - 48) / 2), 48, 48);
      expect((await decodeImage(g.path, { size: 48 })).data, g.path).toEqual(want.data);
      const smaller = crop(whole, Math.ceil((whole.height - 40) / 2), Math.ceil((whole.width - 40) / 2), 40, 40);
      expect((await decodeImage(g.path, { size: 48, crop: 40 })).data, g.path).toEqual(smaller.data);
    }
  });
  it('a 16-bit PNG decodes to the same bytes as its 8-bit source', async () => {
    const w = 40, h = 30, src = Buffer.alloc(w * h * 3);
    for (let i = 0; i < src.length; i++) src[i] = (i * 7) & 255;
    const raw = { raw: { width: w, height: h, channels: 3 as const } };
    const png16 = await sharp(src, raw).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    const a = await decodeImage(png16, { size: 30, crop: false });
    const b = await decodeImage(await sharp(src, raw).png().toBuffer(), { size: 30, crop: false });
    expect([a.height, a.width, a.channels]).toEqual([30, 40, 3]);
    expect(a.data).toEqual(b.data);
  });
  it('a CMYK JPEG decodes to the colours of its RGB source', async () => {
    const cmyk = tree.good.find((g) => g.path.endsWith('cmyk.JPEG'))!.path;
    const fromCmyk = await decodeImage(cmyk, { size: 32 });
    const png = await sharp(pattern(160, 240, 4), { raw: { width: 160, height: 240, channels: 3 } }).png().toBuffer();
    const fromRgb = await decodeImage(png, { size: 32 });
    // Through libvips' default CMYK profile and back the colours move a little (JPEG loss included).
    expect(meanAbsDiff(fromCmyk.data, fromRgb.data)).toBeLessThan(16);
    // ... while an unrelated picture is far off.
    const other = await decodeImage(await sharp(pattern(160, 240, 7), { raw: { width: 160, height: 240, channels: 3 } }).png().toBuffer(), { size: 32 });
    expect(meanAbsDiff(other.data, fromRgb.data)).toBeGreaterThan(40);
  });
});

describe('pack (raw) and read back', () => {
  it('reports packed and skipped files with reasons; progress reaches the total', () => {
    expect(rawReport.count).toBe(tree.good.length);
    expect(rawReport.skipped.map((s) => s.path).sort()).toEqual([...tree.bad].sort());
    expect(rawReport.skipped.find((s) => s.path.endsWith('empty.JPEG'))!.reason).toMatch(/empty file/);
    expect(rawReport.shards).toBe(Math.ceil((tree.good.length + tree.bad.length) / 5));
    const last = progress[progress.length - 1];
    expect(last.done).toBe(last.total);
    expect(last.skipped).toBe(2);
    expect(readdirSync(join(dir, 'raw')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('labels, class names, pixels and statistics match directly computed values', async () => {
    using ds = PackedDataset.open(join(dir, 'raw'));
    expect(ds.length).toBe(tree.good.length);
    expect(ds.shape).toEqual([64, 64, 3]);
    expect(ds.classes).toEqual(WNIDS);
    expect(ds.classNames).toEqual(NAMES);
    expect(Array.from(ds.labels)).toEqual(tree.good.map((g) => g.label));
    expect(ds.files()).toEqual(tree.good.map((g) => g.path));
    const H = 64, W = 64, C = 3, P = H * W;
    const sumImg = new Float64Array(P * C);
    const sum = [0, 0, 0], cross = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
    for (let i = 0; i < ds.length; i++) {
      const direct = await decodeImage(tree.good[i].path, { size: 64 });
      expect(ds.pixelsSync(i)).toEqual(direct.data);
      expect((await ds.get(i)).label).toBe(tree.good[i].label);
      for (let k = 0; k < P * C; k++) sumImg[k] += direct.data[k];
      for (let k = 0; k < P; k++)
        for (let a = 0; a < 3; a++) {
          sum[a] += direct.data[3 * k + a];
          for (let b = 0; b < 3; b++) cross[a][b] += direct.data[3 * k + a] * direct.data[3 * k + b];
        }
    }
    const N = ds.length * P;
    const mean = sum.map((s) => s / N);
    const cov = cross.map((r, a) => r.map((v, b) => (v / N - mean[a] * mean[b]) / 255 ** 2));
    const st = ds.stats;
    st.mean.forEach((m, c) => expect(m).toBeCloseTo(mean[c], 9));
    st.std.forEach((s, c) => expect(s).toBeCloseTo(Math.sqrt(cov[c][c]) * 255, 9));
    st.cov.forEach((r, a) => r.forEach((v, b) => expect(v).toBeCloseTo(cov[a][b], 12)));
    const e = eigSymmetric(cov);
    st.eigvals.forEach((v, j) => expect(v).toBeCloseTo(e.eigvals[j], 12));
    // eigvecs: Σ λ v vᵀ reconstructs the covariance.
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++)
      expect(st.eigvecs.reduce((s, v, j) => s + st.eigvals[j] * v[a] * v[b], 0)).toBeCloseTo(cov[a][b], 12);
    const mi = ds.meanImage();
    for (let k = 0; k < mi.length; k++) expect(mi[k]).toBeCloseTo(sumImg[k] / ds.length, 3);
  });

  it('a re-run keeps complete shards and redoes only missing or unfinished ones', async () => {
    const out = join(dir, 'raw');
    const list = scanIlsvrc(tree.root, 'train');
    const again = await pack(list, { out, size: 64, shardSize: 5, workers: 2 });
    expect(again.resumedShards).toBe(again.shards);
    // An interrupted run: shard 1's commit mark (sidecar) is gone and a stray temp file is left.
    rmSync(join(out, 'shard-00001.json'));
    writeFileSync(join(out, '.shard-00001.bin.123.tmp'), 'partial');
    rmSync(join(out, 'index.json'));
    const third = await pack(list, { out, size: 64, shardSize: 5, workers: 1 });
    expect(third.resumedShards).toBe(third.shards - 1);
    expect(third.count).toBe(rawReport.count);
    expect(third.index.stats).toEqual(rawReport.index.stats);
    expect(existsSync(join(out, '.shard-00001.bin.123.tmp'))).toBe(false);
    // Different options: nothing is reused.
    const other = await pack(list, { out, size: 48, shardSize: 5, workers: 0 });
    expect(other.resumedShards).toBe(0);
    const fourth = await pack(list, { out, size: 64, shardSize: 5, workers: 2 });
    expect(fourth.resumedShards).toBe(0);
  });
});

describe('pack (jpeg), val and in-memory', () => {
  it('JPEG shards are smaller and decode close to the raw pixels', async () => {
    const list = scanIlsvrc(tree.root, 'train');
    const rep = await pack(list, { out: join(dir, 'jpeg'), size: 64, encoding: 'jpeg', quality: 95, workers: 1 });
    expect(rep.count).toBe(rawReport.count);
    expect(rep.bytes).toBeLessThan(rawReport.bytes);
    using raw = PackedDataset.open(join(dir, 'raw'));
    using jp = PackedDataset.open(join(dir, 'jpeg'));
    expect(jp.encoding).toBe('jpeg');
    expect(() => jp.pixelsSync(0)).toThrow(/raw pack/);
    for (let i = 0; i < jp.length; i++) {
      const a = raw.pixelsSync(i), b = await jp.pixels(i);
      let d = 0;
      for (let k = 0; k < a.length; k++) d += Math.abs(a[k] - b[k]);
      expect(d / a.length).toBeLessThan(4);
    }
  });
  it('packs the flat val split with its labels', async () => {
    const rep = await pack(scanIlsvrc(tree.root, 'val'), { out: join(dir, 'val'), size: 32, workers: 1 });
    using ds = PackedDataset.open(join(dir, 'val'));
    expect(rep.count).toBe(6);
    const files = ds.files();
    files.forEach((f, i) => expect(ds.labels[i]).toBe(VAL_LABELS[Number(f.match(/_(\d{8})\./)![1]) - 1]));
  });
  it('packs an in-memory image set unchanged', async () => {
    const n = 7, images = Uint8Array.from({ length: n * 5 * 4 * 1 }, (_, i) => (i * 37) & 255);
    const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
    await pack({ images, labels, n, height: 5, width: 4, channels: 1, classes: ['a', 'b', 'c'] }, { out: join(dir, 'mem'), shardSize: 3 });
    using ds = PackedDataset.open(join(dir, 'mem'));
    expect(ds.shape).toEqual([5, 4, 1]);
    for (let i = 0; i < n; i++) expect(ds.pixelsSync(i)).toEqual(images.subarray(i * 20, i * 20 + 20));
    expect(Array.from(ds.labels)).toEqual(Array.from(labels));
  });
  it('a pack whose classes are ILSVRC-2012 wnids prints names without any synset file', async () => {
    const n = 3, images = new Uint8Array(n * 2 * 2 * 3).fill(9);
    await pack({ images, labels: Int32Array.from([0, 1, 2]), n, height: 2, width: 2, channels: 3, classes: WNIDS }, { out: join(dir, 'mem-wnids') });
    using ds = PackedDataset.open(join(dir, 'mem-wnids'));
    expect(ds.index.classNames).toBeNull();
    expect(ds.classNames).toEqual(NAMES);
  });
  it('an all-bad dataset is a clear error', async () => {
    const root = join(dir, 'allbad');
    mkdirSync(join(root, 'a'), { recursive: true });
    writeFileSync(join(root, 'a', 'x.jpg'), 'not an image');
    await expect(pack(scanImageFolder(root), { out: join(dir, 'allbad-out'), workers: 0 })).rejects.toThrow(/none of the 1 images could be decoded/);
  });
});
