// Bad inputs to `convnet train` / `convnet pack`: each gives one line naming the file or flag and what was expected,
// exit 2, quickly; and a pack notices when an image's bytes change.
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { idx, runCli, tempRoot } from './helpers.js';
import { loadStateDictFile } from '@convnet/layers';

const root = tempRoot('bad');
const run = (a: string[]) => runCli(a, { env: { CONVNET_CACHE: join(root, 'cache') } });


/** An IDX dataset dir: images of `dims` (without n), labels i % classes. */
function idxDir(name: string, nTrain: number, nTest: number, dims: number[], classes = 4): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const per = dims.reduce((a, b) => a * b, 1);
  for (const [prefix, n] of [['train', nTrain], ['t10k', nTest]] as const) {
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte`), idx([n, ...dims], Uint8Array.from({ length: n * per }, (_, i) => (i * 7) & 255)));
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte`), idx([n], Uint8Array.from({ length: n }, (_, i) => i % classes)));
  }
  return dir;
}

function oneLine(args: string[], re: RegExp, maxMs = 20_000): void {
  const t0 = performance.now();
  const r = run(args);
  expect(r.status, `${args.join(' ')}\n${r.stderr}`).toBe(2);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(re);
  expect(r.stderr).not.toMatch(/call stack|TypeError|at .*\.js:\d+/);
  expect(performance.now() - t0).toBeLessThan(maxMs);
}

describe('bad inputs', () => {
  it('an IDX set with 250,000 labels is read (no stack overflow): the error is about the model, not the labels', () => {
    const dir = idxDir('many', 250_000, 10, [2, 2], 10);
    oneLine(['train', '--data', dir], /--model small-bn does not fit 1×2×2 inputs of .*many/);
  });

  it('3-channel IDX images (n×h×w×3) are read as RGB', () => {
    const dir = idxDir('rgb', 64, 16, [32, 32, 3]);
    const run1 = run(['train', '--data', dir, '--model', 'cifar-80sec', '--batch-size', '16', '--max-steps', '1', '--run', join(root, 'rgb-run')]);
    expect(run1.status, run1.stderr).toBe(0);
    const state = JSON.parse(loadStateDictFile(join(root, 'rgb-run', 'checkpoints', 'last.safetensors')).metadata.state);
    expect(state.dataset.shape).toEqual([3, 32, 32]);
    oneLine(['train', '--data', idxDir('two', 8, 8, [8, 8, 2])], /IDX images have 2 channels; expected 1 \(grey\) or 3 \(RGB\)/);
  });

  it('no test images is refused before training (it reported "top-1 error NaN%")', () => {
    oneLine(['train', '--data', idxDir('notest', 64, 0, [28, 28])], /--data: .*notest has no test images/);
  });

  it('a gzip bomb is refused after inflating no more than its IDX header declares', () => {
    const dir = join(root, 'bomb');
    mkdirSync(dir, { recursive: true });
    // 16-byte header for 10 images of 28×28, then 100 MB of zeros: about 100 KB gzipped
    const head = idx([10, 28, 28], new Uint8Array(0));
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(Buffer.concat([head, Buffer.alloc(100 << 20)]), { level: 9 }));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx([10], new Uint8Array(10)));
    oneLine(['train', '--data', dir], /train-images-idx3-ubyte\.gz: decompresses to more than the 7856 bytes its IDX header declares/, 5_000);
  });

  it('an unfinished pack says so and how to finish it', () => {
    const dir = join(root, 'half');
    mkdirSync(join(dir, 'train'), { recursive: true });
    writeFileSync(join(dir, 'train', 'shard-00000.bin'), Buffer.alloc(10));
    oneLine(['train', '--data', dir], /--data: .*half is an unfinished pack \(train\/ holds shards but no index.json\): run the same 'convnet pack SRC .*half' again to finish it/);
  });

  it('a file name with a line break is refused before packing (files.txt lists one name per line)', async () => {
    const tree = join(root, 'nl');
    for (const split of ['train', 'val']) {
      mkdirSync(join(tree, split, 'a'), { recursive: true });
      const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).png().toBuffer();
      writeFileSync(join(tree, split, 'a', split === 'train' ? 'bad\nname.png' : 'ok.png'), png);
    }
    oneLine(['pack', tree, join(root, 'nl-out'), '--size', '8', '--workers', '1'], /"[^"]*bad\\nname\.png": file names with a line break cannot be packed/);
  });
});

describe('pack invalidation', () => {
  it('a shard whose image bytes changed is packed again (size + mtime in the plan)', async () => {
    const tree = join(root, 'tree'), out = join(root, 'tree-out');
    const img = (v: number, size = 12) => sharp({ create: { width: size, height: size, channels: 3, background: { r: v, g: 40, b: 200 - v } } }).png().toBuffer();
    for (const split of ['train', 'val'])
      for (const c of ['a', 'b']) {
        mkdirSync(join(tree, split, c), { recursive: true });
        for (let i = 0; i < 4; i++) writeFileSync(join(tree, split, c, `${i}.png`), await img(20 * i + (c === 'a' ? 0 : 100)));
      }
    const args = ['pack', tree, out, '--size', '8', '--shard-size', '2', '--workers', '1'];
    expect(run(args).status).toBe(0);
    expect(run(args).stdout).toMatch(/train: 8 images, .* in 4 shards \(4 kept from an earlier run\)/);
    const changed = join(tree, 'train', 'b', '3.png');
    writeFileSync(changed, await img(255, 16));
    utimesSync(changed, new Date(), new Date(Date.now() + 5000));
    const again = run(args);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/train: 8 images, .* in 4 shards \(3 kept from an earlier run\)/);
  });
});
