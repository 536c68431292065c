// The `convnet` command on an ImageNet-layout tree of real image files (generated with sharp): pack it, train a
// small net for 2 epochs on the packed data (random crops, flips, PCA lighting, worker-thread loader), stop and
// resume to the same losses, eval with 1 and 10 views, predict with class names; and train straight from the
// tree (packed into the cache on the way).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@convnet/tensor';

const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'convnet-imagenet-'));
const tree = join(root, 'ilsvrc');
const packed = join(root, 'packed');
const cache = join(root, 'cache');
const WNIDS = ['n01440764', 'n01443537', 'n01484850', 'n01491361'];
const NAMES = ['tench', 'goldfish', 'great white shark', 'tiger shark'];

/** Class 0: red disc, 1: green square, 2: blue horizontal stripes, 3: yellow vertical stripes; on noise. */
function draw(c: number, w: number, h: number, r: Rng): Buffer {
  const px = Buffer.alloc(w * h * 3);
  const cx = w / 2 + (r.int(9) - 4), cy = h / 2 + (r.int(9) - 4), rad = Math.min(w, h) / 3;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      for (let k = 0; k < 3; k++) px[o + k] = 40 + r.int(50);
      const inDisc = (x - cx) ** 2 + (y - cy) ** 2 < rad * rad;
      const inSquare = Math.abs(x - cx) < rad && Math.abs(y - cy) < rad;
      if (c === 0 && inDisc) px[o] = 230;
      if (c === 1 && inSquare) px[o + 1] = 220;
      if (c === 2 && (y >> 2) % 2 === 0) px[o + 2] = 230;
      if (c === 3 && (x >> 2) % 2 === 0) { px[o] = 220; px[o + 1] = 220; }
    }
  return px;
}

const jpeg = (px: Buffer, w: number, h: number) => sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync('node', [cli, ...args], { encoding: 'utf8', env: { ...process.env, CONVNET_NUM_THREADS: '2', CONVNET_CACHE: cache, ...env } });
const stepLosses = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((m) => m.type === 'step').map((m) => [m.step, m.loss]);

beforeAll(async () => {
  const r = new Rng(11);
  mkdirSync(join(tree, 'val'), { recursive: true });
  writeFileSync(join(tree, 'LOC_synset_mapping.txt'), WNIDS.map((w, i) => `${w} ${NAMES[i]}, other name`).join('\n') + '\n');
  for (let c = 0; c < 4; c++) {
    const dir = join(tree, 'train', WNIDS[c]);
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 40; i++) {
      const w = 36 + r.int(20), h = 36 + r.int(20);
      writeFileSync(join(dir, `${WNIDS[c]}_${i}.JPEG`), await jpeg(draw(c, w, h, r), w, h));
    }
  }
  // the odd files ImageNet has: greyscale, CMYK, a PNG named .JPEG; and two that cannot be decoded
  const d0 = join(tree, 'train', WNIDS[0]);
  const px = draw(0, 40, 40, r);
  writeFileSync(join(d0, 'grey.JPEG'), await sharp(px, { raw: { width: 40, height: 40, channels: 3 } }).greyscale().jpeg().toBuffer());
  writeFileSync(join(d0, 'cmyk.JPEG'), await sharp(px, { raw: { width: 40, height: 40, channels: 3 } }).toColourspace('cmyk').jpeg().toBuffer());
  writeFileSync(join(d0, 'png.JPEG'), await sharp(px, { raw: { width: 40, height: 40, channels: 3 } }).png().toBuffer());
  const full = await jpeg(px, 40, 40);
  writeFileSync(join(d0, 'truncated.JPEG'), full.subarray(0, full.length >> 1));
  writeFileSync(join(d0, 'empty.JPEG'), Buffer.alloc(0));
  // flat val/ with LOC_val_solution.csv, as in the Kaggle download
  const rows = ['ImageId,PredictionString'];
  for (let i = 1; i <= 48; i++) {
    const c = i % 4, id = `ILSVRC2012_val_${String(i).padStart(8, '0')}`;
    writeFileSync(join(tree, 'val', `${id}.JPEG`), await jpeg(draw(c, 48, 40, r), 48, 40));
    rows.push(`${id},${WNIDS[c]} 1 2 30 40 ${WNIDS[c]} 3 4 20 20`);
  }
  writeFileSync(join(tree, 'LOC_val_solution.csv'), rows.join('\n') + '\n');
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

const common = ['--model', 'small', '--batch-size', '16', '--lr', '0.02', '--seed', '5', '--log-every', '1', '--workers', '1'];

describe('convnet pack / train on an ImageNet-layout tree', () => {
  it('pack: both splits, labels from folders and LOC_val_solution.csv, names, the undecodable files skipped and listed', () => {
    const r = run(['pack', tree, packed, '--size', '32', '--workers', '1', '--shard-size', '64']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/train: 163 images, 4 classes, 32×32×3 raw/);
    expect(r.stdout).toMatch(/2 skipped/);
    expect(r.stdout).toMatch(/val: 48 images, 4 classes/);
    const index = JSON.parse(readFileSync(join(packed, 'train', 'index.json'), 'utf8'));
    expect(index.classes).toEqual(WNIDS);
    expect(index.classNames).toEqual(NAMES.map((n) => `${n}, other name`));
    const report = JSON.parse(readFileSync(join(packed, 'train', 'report.json'), 'utf8'));
    expect(report.skipped.map((s: { path: string }) => s.path.split('/').pop()).sort()).toEqual(['empty.JPEG', 'truncated.JPEG']);
    const vi = JSON.parse(readFileSync(join(packed, 'val', 'index.json'), 'utf8'));
    const labels = new Int32Array(new Uint8Array(readFileSync(join(packed, 'val', 'labels.i32'))).buffer);
    const files = readFileSync(join(packed, 'val', 'files.txt'), 'utf8').trim().split('\n');
    expect(vi.count).toBe(48);
    files.forEach((f, k) => expect(labels[k]).toBe(Number(/val_0*(\d+)/.exec(f)![1]) % 4));
    // a second run keeps every shard
    const again = run(['pack', tree, packed, '--size', '32', '--workers', '1', '--shard-size', '64']);
    expect(again.stdout).toMatch(/3 shards \(3 kept from an earlier run\)/);
  }, 60_000);

  it('trains 2 epochs on the pack: loss falls, validation accuracy is high, report and checkpoints exist', () => {
    const dir = join(root, 'run-full');
    const r = run(['train', '--data', packed, ...common, '--epochs', '2', '--run', dir]);
    expect(r.status, r.stderr).toBe(0);
    const acc = Number(/test accuracy (\d+\.\d+)%/.exec(r.stdout)![1]);
    expect(acc).toBeGreaterThan(80);
    const losses = stepLosses(dir).map(([, l]) => l);
    expect(losses.length).toBe(20);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean(losses.slice(-5))).toBeLessThan(0.6 * mean(losses.slice(0, 5)));
    for (const f of ['config.json', 'report.html', 'checkpoints/last.safetensors', 'checkpoints/best.safetensors']) expect(existsSync(join(dir, f)), f).toBe(true);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(cfg.lighting).toBe(0.1);
    const m = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((x) => x.type === 'epoch');
    expect(m).toHaveLength(2);
    expect(m[1].dataWaitShare).toBeGreaterThanOrEqual(0);
    expect(m[1].dataWaitShare).toBeLessThan(1);
  }, 120_000);

  it('a run stopped mid-epoch and resumed gives exactly the losses of an uninterrupted run', () => {
    const dir = join(root, 'run-resumed');
    expect(run(['train', '--data', packed, ...common, '--epochs', '2', '--run', dir, '--max-steps', '13']).status).toBe(0);
    expect(stepLosses(dir)).toHaveLength(13);
    const r = run(['train', '--resume', dir]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resuming .* at epoch 2, step 3 \(global step 13\)/);
    expect(stepLosses(dir)).toEqual(stepLosses(join(root, 'run-full')));
  }, 120_000);

  it('SIGINT, SIGTERM and SIGHUP mid-epoch: checkpoint at the next step, exit 130/143/129; the resumed run has the uninterrupted losses', async () => {
    const ref = join(root, 'run-signal-ref');
    const args = ['train', '--data', packed, ...common, '--epochs', '50'];
    expect(run([...args, '--run', ref, '--max-steps', '30']).status).toBe(0);
    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
      const dir = join(root, `run-${signal}`);
      const child = spawn('node', [cli, ...args, '--run', dir], { env: { ...process.env, CONVNET_NUM_THREADS: '2' } });
      let stderr = '';
      child.stderr.on('data', (d) => { stderr += d; });
      const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
      for (let t = 0; t < 600; t++) {
        await new Promise((r) => setTimeout(r, 50));
        if (existsSync(join(dir, 'metrics.jsonl')) && stepLosses(dir).length >= 3) break;
      }
      child.kill(signal);
      expect(await exited, stderr).toBe(code);
      expect(stderr).toMatch(new RegExp(`stopped by ${signal} at epoch \\d+, step \\d+/10 \\(global step (\\d+)\\); checkpoint .*last\\.safetensors; continue with: convnet train --resume`));
      const done = stepLosses(dir).length;
      expect(Number(/global step (\d+)\)/.exec(stderr)![1])).toBe(done);
      expect(done).toBeGreaterThanOrEqual(3);
      expect(done).toBeLessThan(30);
      const r = run(['train', '--resume', dir, '--max-steps', '30']);
      expect(r.status, r.stderr).toBe(0);
      expect(stepLosses(dir), signal).toEqual(stepLosses(ref));
    }
  }, 180_000);

  it('eval with 1 and 10 views; predict prints class names', async () => {
    const dir = join(root, 'run-full');
    const e1 = run(['eval', '--run', dir]);
    expect(e1.status, e1.stderr).toBe(0);
    expect(e1.stdout).toMatch(/48 test images, 1 view: top-1 error \d+\.\d+%/);
    const e10 = run(['eval', '--run', dir, '--views', '10']);
    expect(e10.status, e10.stderr).toBe(0);
    const err10 = Number(/10 views: top-1 error (\d+\.\d+)%/.exec(e10.stdout)![1]);
    expect(err10).toBeLessThan(20);
    const img = join(root, 'green.jpg');
    writeFileSync(img, await jpeg(draw(1, 50, 44, new Rng(99)), 50, 44));
    const p = run(['predict', '--run', dir, img]);
    expect(p.status, p.stderr).toBe(0);
    const lines = p.stdout.trim().split('\n');
    expect(lines).toHaveLength(6); // the preprocessing, the file name, then the 4 classes
    expect(lines[0]).toMatch(/^preprocessing: dataset/);
    expect(lines[2]).toMatch(/^\s+\d+\.\d+%\s+goldfish, other name$/);
  }, 60_000);

  it('--data <image tree> packs into the cache once and trains; bad trees give one-line errors', () => {
    const dir = join(root, 'run-tree');
    const r = run(['train', '--data', tree, ...common, '--epochs', '1', '--max-steps', '3', '--run', dir]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/packing .* into .*cache/);
    expect(r.stderr).toMatch(/train: 163 images, 4 classes, 32×32×3/);
    const noVal = join(root, 'noval');
    mkdirSync(join(noVal, 'train', 'a'), { recursive: true });
    const e = run(['train', '--data', noVal, '--model', 'small']);
    expect(e.status).toBe(2);
    expect(e.stderr.trim().split('\n')).toHaveLength(1);
    expect(e.stderr).toMatch(/no val\/ folder/);
    const onePack = run(['train', '--data', join(packed, 'train')]);
    expect(onePack.status).toBe(2);
    expect(onePack.stderr).toMatch(/single pack; give the directory that holds its train\/ and val\/ packs/);
    const paper = run(['train', '--data', packed]);
    expect(paper.status).toBe(2);
    expect(paper.stderr).toMatch(/--model paper expects 3×227×227 inputs/);
  }, 120_000);
});
