// `--plugin`: the trainer loads a contributed kernel package by name and trains its model. alexnet-bn
// (@convnet/kernels-batchnorm) on a small generated IDX set of 4 shape classes: the loss falls, and the
// checkpoint carries the batch-norm running statistics.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempRoot } from './helpers.js';
import { Rng } from '@convnet/tensor';

const root = tempRoot('plugin');
const data = join(root, 'shapes');
const run = (args: string[]) => runCli(args, { threads: 2 });

/** Class 0: horizontal bar, 1: vertical bar, 2: diagonal, 3: blank; random position and noise (28×28). */
function shapes(n: number, seed: number): { images: Uint8Array; labels: Uint8Array } {
  const r = new Rng(seed), images = new Uint8Array(n * 784), labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 4, ox = 4 + r.int(8), oy = 4 + r.int(8), img = images.subarray(i * 784, (i + 1) * 784);
    for (let k = 0; k < 12; k++) {
      if (c === 0) img[(oy + 6) * 28 + ox + k] = 255;
      if (c === 1) img[(oy + k) * 28 + ox + 6] = 255;
      if (c === 2) img[(oy + k) * 28 + ox + k] = 255;
    }
    for (let p = 0; p < 784; p++) img[p] = Math.min(255, img[p] + r.int(40));
    labels[i] = c;
  }
  return { images, labels };
}
const idx = (dims: number[], bytes: Uint8Array) => {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(0x00000800 | dims.length, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(bytes)]);
};

beforeAll(() => {
  mkdirSync(data, { recursive: true });
  for (const [prefix, n, seed] of [['train', 80, 1], ['t10k', 16, 2]] as const) {
    const { images, labels } = shapes(n, seed);
    writeFileSync(join(data, `${prefix}-images-idx3-ubyte.gz`), gzipSync(idx([n, 28, 28], images)));
    writeFileSync(join(data, `${prefix}-labels-idx1-ubyte`), idx([n], labels));
  }
});

describe('convnet train --plugin @convnet/kernels-batchnorm --model alexnet-bn', () => {
  it('trains alexnet-bn: the loss falls; the checkpoint holds running statistics', () => {
    const dir = join(root, 'run');
    const r = run(['train', '--plugin', '@convnet/kernels-batchnorm', '--model', 'alexnet-bn', '--data', data,
      '--epochs', '2', '--batch-size', '16', '--lr', '0.02', '--seed', '1', '--log-every', '1', '--run', dir]);
    expect(r.stderr + r.stdout).toContain('epoch 2/2');
    expect(r.status).toBe(0);
    const losses = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
      .filter((m) => m.type === 'step').map((m) => m.loss as number);
    expect(losses.length).toBe(10);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(losses.slice(-3))).toBeLessThan(0.8 * mean(losses.slice(0, 3)));
    const ckpt = readFileSync(join(dir, 'checkpoints', 'last.safetensors'));
    const header = ckpt.subarray(8, 8 + Number(ckpt.readBigUInt64LE(0))).toString('utf8');
    expect(header).toContain('model.features.1.running_var');
  });

  it('an unknown plugin, or an unknown model, is a one-line usage error; the built-in plugin needs no --plugin', () => {
    const a = run(['train', '--plugin', '@convnet/no-such-plugin', '--data', data]);
    expect(a.status).toBe(2);
    expect(a.stderr.trim()).toMatch(/^convnet train: --plugin: cannot find the package '@convnet\/no-such-plugin'/);
    // the fix is a command (run from the trainer's folder: no global one; test/contributing.test.ts checks that)
    expect(a.stderr).toContain(
      'install it here (npm install @convnet/no-such-plugin); a plugin folder is given as a path');
    const b = run(['train', '--model', 'alexnet-bnx', '--data', data, '--epochs', '1']);
    expect(b.status).toBe(2);
    expect(b.stderr.trim()).toMatch(/unknown model 'alexnet-bnx'/);
    expect(b.stderr.trim().split('\n')).toHaveLength(1);
    // @convnet/kernels-batchnorm is the trainer's own dependency, loaded without --plugin (its models are known)
    const c = run(['summary', '--model', 'small-bn']);
    expect(c.status, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/batchnorm2d/);
  });
});

describe('a plugin layer that is not a Module of this @convnet/layers', () => {
  /** A plugin whose model `fake` has one layer built by `make` (JavaScript source of an expression). */
  function fakePlugin(name: string, make: string): string {
    const d = join(root, 'plugins', name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'package.json'), JSON.stringify({ name, type: 'module', exports: './index.mjs' }));
    writeFileSync(join(d, 'index.mjs'), `class Fake { outputShape(s) { return s; } forward(x) { return x; } }
const spec = () => ({ name: 'fake', description: 'fake', input: [1, 28, 28],
  features: [{ type: 'module', kind: 'fake', build: () => ${make}, flops: () => 0 }],
  classifier: [{ type: 'linear', out: 10, init: { kind: 'pytorch' } }] });
export const convnetPlugin = { name: '${name}', register(api) { api.registerModel('fake', spec); return {}; } };
`);
    return d;
  }
  const train = (d: string) =>
    run(['train', '--plugin', d, '--model', 'fake', '--data', 'synthetic', '--max-steps', '1']);

  it('one without the Module brand is named as such, not blamed on the input shape', () => {
    const r = train(fakePlugin('unbranded', 'new Fake()'));
    expect(r.status).toBe(2);
    // the plugin's line (what it registered), then one error line
    expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('convnet train: plugin '))).toHaveLength(1);
    expect(r.stderr).toMatch(/--model fake: building it failed: registerModule\('0'\): expected a Module, got an/);
    expect(r.stderr).toMatch(/class Fake without the Module brand/);
    expect(r.stderr).not.toMatch(/does not fit/);
  });

  it("one of another module ABI names both ABIs and the fix", () => {
    const r = train(fakePlugin('abi2', "Object.assign(new Fake(), { [Symbol.for('convnet.module')]: 2 })"));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/module ABI 2; this copy has 1\): install one version of @convnet\/layers/);
  });
});
