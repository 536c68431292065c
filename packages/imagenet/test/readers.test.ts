import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CIFAR10_CLASSES, DataError, DEBIAN_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, loadCifar, loadFashionMnist, loadMnist,
  parseCifar, parseDevkitMapping, parseIdx, parseLocValSolution, parseSynsetMapping, parseValGroundTruth, readIdx,
} from '@convnet/imagenet';

const dir = mkdtempSync(join(tmpdir(), 'convnet-readers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** IDX bytes written by hand: magic, dims big-endian, data. */
function idxBytes(type: number, dims: number[], data: number[]): Uint8Array {
  const size = { 8: 1, 9: 1, 11: 2, 12: 4, 13: 4, 14: 8 }[type]!;
  const b = new Uint8Array(4 + 4 * dims.length + size * data.length);
  const dv = new DataView(b.buffer);
  b[2] = type; b[3] = dims.length;
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  const o = 4 + 4 * dims.length;
  data.forEach((v, i) => {
    if (type === 8) dv.setUint8(o + i, v);
    else if (type === 9) dv.setInt8(o + i, v);
    else if (type === 11) dv.setInt16(o + 2 * i, v, false);
    else if (type === 12) dv.setInt32(o + 4 * i, v, false);
    else if (type === 13) dv.setFloat32(o + 4 * i, v, false);
    else dv.setFloat64(o + 8 * i, v, false);
  });
  return b;
}

describe('IDX', () => {
  it('reads every element type with the exact byte layout', () => {
    const u8 = parseIdx(idxBytes(8, [2, 3], [1, 2, 3, 250, 251, 252]));
    expect(u8.type).toBe('uint8');
    expect(u8.dims).toEqual([2, 3]);
    expect(Array.from(u8.data)).toEqual([1, 2, 3, 250, 251, 252]);
    expect(Array.from(parseIdx(idxBytes(9, [3], [-1, 0, 127])).data)).toEqual([-1, 0, 127]);
    expect(Array.from(parseIdx(idxBytes(11, [2], [-300, 1234])).data)).toEqual([-300, 1234]);
    expect(Array.from(parseIdx(idxBytes(12, [2], [-70000, 2 ** 30])).data)).toEqual([-70000, 2 ** 30]);
    expect(Array.from(parseIdx(idxBytes(13, [1], [1.5])).data)).toEqual([1.5]);
    expect(Array.from(parseIdx(idxBytes(14, [1, 1], [Math.PI])).data)).toEqual([Math.PI]);
  });
  it('MNIST-layout directory, gzipped or not', () => {
    const n = 3, imgs = Array.from({ length: n * 4 * 5 }, (_, i) => i % 256), labels = [2, 0, 9];
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idxBytes(8, [n, 4, 5], imgs)));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idxBytes(8, [n], labels));
    const s = loadMnist(dir, 'train');
    expect([s.n, s.height, s.width, s.channels]).toEqual([3, 4, 5, 1]);
    expect(Array.from(s.images)).toEqual(imgs);
    expect(Array.from(s.labels)).toEqual(labels);
    expect(() => loadMnist(dir, 'test')).toThrow(/missing t10k-images-idx3-ubyte/);
    writeFileSync(join(dir, 'bad.gz'), gzipSync(idxBytes(8, [4], [1, 2, 3, 4])).subarray(0, 12));
    expect(() => readIdx(join(dir, 'bad.gz'))).toThrow(/corrupt or truncated gzip/);
  });
  it('clear errors: magic, type, truncation, extra bytes', () => {
    expect(() => parseIdx(new Uint8Array([1, 0, 8, 1]))).toThrow(/magic/);
    expect(() => parseIdx(new Uint8Array([0, 0, 7, 1, 0, 0, 0, 0]))).toThrow(/element type 0x07/);
    expect(() => parseIdx(new Uint8Array([0, 0, 8, 2, 0, 0]))).toThrow(/truncated IDX header/);
    expect(() => parseIdx(idxBytes(8, [5], [1, 2, 3, 4, 5]).subarray(0, 10))).toThrow(/need 5 bytes of data, the file has 2 \(truncated\?\)/);
    expect(() => readIdx(join(dir, 'none'))).toThrow(/no such file/);
  });
  const fashion = existsSync(join(DEBIAN_FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'));
  it.skipIf(!fashion)(`real Fashion-MNIST files (${DEBIAN_FASHION_MNIST_DIR}; skipped when Debian's dataset-fashion-mnist is not installed)`, () => {
    const train = loadFashionMnist('train'), test = loadFashionMnist('test');
    expect([train.n, train.height, train.width, train.channels]).toEqual([60000, 28, 28, 1]);
    expect(test.n).toBe(10000);
    expect(train.classes).toEqual(FASHION_MNIST_CLASSES);
    const counts = new Array(10).fill(0);
    for (const l of train.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(6000));
    let sum = 0;
    for (const v of train.images) sum += v;
    expect(sum / train.images.length / 255).toBeCloseTo(0.286, 2); // the well-known Fashion-MNIST mean
    // The first labels of each split (9 = ankle boot), and the first image's byte sum as Python's gzip reads it.
    expect(Array.from(train.labels.subarray(0, 5))).toEqual([9, 0, 0, 3, 0]);
    expect(Array.from(test.labels.subarray(0, 5))).toEqual([9, 2, 1, 1, 6]);
    expect(train.images.subarray(0, 784).reduce((a, v) => a + v, 0)).toBe(76247);
    const testCounts = new Array(10).fill(0);
    for (const l of test.labels) testCounts[l]++;
    expect(testCounts).toEqual(new Array(10).fill(1000));
  });
});

describe('CIFAR binary', () => {
  function record(label: number[], seed: number): number[] {
    return [...label, ...Array.from({ length: 3072 }, (_, i) => (i * 7 + seed) & 255)];
  }
  it('CIFAR-10: planar R/G/B records become HWC images with their labels', () => {
    const bytes = Uint8Array.from([...record([3], 1), ...record([9], 2)]);
    const s = parseCifar(bytes);
    expect([s.n, s.height, s.width, s.channels]).toEqual([2, 32, 32, 3]);
    expect(Array.from(s.labels)).toEqual([3, 9]);
    expect(s.classes).toEqual(CIFAR10_CLASSES);
    // pixel (y=1, x=2) of image 1: R at 1+32+2, G at 1024+34, B at 2048+34 in the record's pixel bytes.
    const k = 34;
    for (let c = 0; c < 3; c++) expect(s.images[3072 + 3 * k + c]).toBe(((c * 1024 + k) * 7 + 2) & 255);
  });
  it('CIFAR-100: fine or coarse labels; directory layouts with name files', () => {
    const bytes = Uint8Array.from([...record([4, 77], 0), ...record([19, 5], 3)]);
    expect(Array.from(parseCifar(bytes, { variant: 100 }).labels)).toEqual([77, 5]);
    expect(Array.from(parseCifar(bytes, { variant: 100, label: 'coarse' }).labels)).toEqual([4, 19]);
    writeFileSync(join(dir, 'train.bin'), bytes);
    writeFileSync(join(dir, 'fine_label_names.txt'), Array.from({ length: 100 }, (_, i) => `f${i}`).join('\n'));
    const s = loadCifar(dir, 'train');
    expect(s.classes[77]).toBe('f77');
    expect(() => loadCifar(dir, 'test')).toThrow(/test\.bin: no such file/);
  });
  it('clear errors: partial records, labels out of range', () => {
    expect(() => parseCifar(new Uint8Array(3074))).toThrow(/not a whole number of 3073-byte records/);
    expect(() => parseCifar(Uint8Array.from(record([10], 0)))).toThrow(/label 10 is out of range/);
    expect(() => parseCifar(new Uint8Array(0))).toThrow(DataError);
  });
});

describe('ILSVRC label files', () => {
  it('synset mapping, LOC_val_solution.csv, devkit ground truth and id mapping', () => {
    expect(parseSynsetMapping('n01440764 tench, Tinca tinca\r\nn01443537 goldfish, Carassius auratus\n')).toEqual([
      { wnid: 'n01440764', name: 'tench, Tinca tinca' }, { wnid: 'n01443537', name: 'goldfish, Carassius auratus' }]);
    const m = parseLocValSolution('ImageId,PredictionString\nILSVRC2012_val_00008726,n02119789 255 142 454 329 n02119789 44 21 322 295\n');
    expect(m.get('ILSVRC2012_val_00008726')).toBe('n02119789');
    expect(Array.from(parseValGroundTruth('490\n361\n171\n', 1000))).toEqual([490, 361, 171]);
    expect(parseDevkitMapping('2 n00000002\n1 n00000001\n')).toEqual(['n00000001', 'n00000002']);
    expect(parseDevkitMapping('n00000005\nn00000001\n')).toEqual(['n00000005', 'n00000001']);
  });
  it('clear errors name the line', () => {
    expect(() => parseSynsetMapping('n01440764 a\nfoo bar\n')).toThrow(/line 2: expected a WordNet id/);
    expect(() => parseSynsetMapping('n01440764 a\nn01440764 b\n')).toThrow(/listed twice/);
    expect(() => parseLocValSolution('ImageId,PredictionString\nabc\n')).toThrow(/line 2/);
    expect(() => parseValGroundTruth('1\n1001\n', 1000)).toThrow(/line 2: class id 1001 is outside 1..1000/);
    expect(() => parseDevkitMapping('1 n00000001\n1 n00000002\n')).toThrow(/listed twice/);
  });
});
