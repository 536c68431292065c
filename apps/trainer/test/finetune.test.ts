// Fine-tuning and export on a generated image tree (PNG files in class folders): a run's weights exported as
// .pth/.safetensors hold the bare state dict; `train --weights` on data with another class count re-initialises
// the last layer (said in one line), `--freeze features` leaves the feature layers bit-identical while the loss
// falls; a resume keeps them frozen.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORT_INSTALL, loadOrt } from './ort.js';
import { Rng, Tensor } from '@convnet/tensor';
import { createModel } from '@convnet/alexnet';
import { loadStateDictFile } from '@convnet/layers';

const ort = await loadOrt();

const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'convnet-ft-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const env = { ...process.env, CONVNET_NUM_THREADS: '2', CONVNET_CACHE: join(root, 'cache') };
const run = (args: string[]) => spawnSync('node', [cli, ...args], { encoding: 'utf8', env });

/** Class k: a bright bar at angle k·45° on noise, in a colour of its own; 32×32 RGB PNGs. */
async function imageTree(dir: string, classes: number, perClass: { train: number; val: number }, seed: number) {
  const r = new Rng(seed);
  for (const split of ['train', 'val'] as const)
    for (let k = 0; k < classes; k++) {
      mkdirSync(join(dir, split, `c${k}`), { recursive: true });
      for (let i = 0; i < perClass[split]; i++) {
        const px = new Uint8Array(32 * 32 * 3);
        for (let p = 0; p < px.length; p++) px[p] = r.int(60);
        const ox = 8 + r.int(8), oy = 8 + r.int(8);
        for (let t = -8; t < 8; t++) {
          const x = k === 0 ? ox + t : k === 1 ? ox : k === 2 ? ox + t : ox - t, y = k === 0 ? oy : k === 1 ? oy + t : oy + t;
          if (x < 0 || x >= 32 || y < 0 || y >= 32) continue;
          for (let c = 0; c < 3; c++) px[(y * 32 + x) * 3 + c] = c === k % 3 ? 255 : 120;
        }
        await sharp(px, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(join(dir, split, `c${k}`, `${i}.png`));
      }
    }
}

const stepLosses = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((m) => m.type === 'step').map((m) => m.loss as number);
const bytes = (t: Tensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;

beforeAll(async () => {
  await imageTree(join(root, 'four'), 4, { train: 24, val: 8 }, 1);
  await imageTree(join(root, 'three'), 3, { train: 32, val: 8 }, 2);
}, 60_000);

describe('export, then fine-tune with --weights and --freeze features', () => {
  const a = join(root, 'a'), b = join(root, 'b');
  const common = ['--model', 'small', '--batch-size', '16', '--seed', '5', '--log-every', '1', '--lighting', '0'];

  it('export writes the bare state dict (PyTorch names, no optimiser) as .pth and .safetensors', () => {
    const r = run(['train', '--data', join(root, 'four'), ...common, '--epochs', '2', '--lr', '0.05', '--run', a]);
    expect(r.status, r.stderr).toBe(0);
    const ck = loadStateDictFile(join(a, 'checkpoints', 'last.safetensors')).stateDict;
    for (const to of ['a.pth', 'a.safetensors']) {
      const e = run(['export', '--run', a, '--checkpoint', 'last', '--to', join(root, to)]);
      expect(e.status, e.stderr).toBe(0);
      expect(e.stdout).toContain(`${join(root, to)}: 8 tensors, `);
      const { stateDict, format } = loadStateDictFile(join(root, to));
      expect(format).toBe(to.endsWith('.pth') ? 'pth-zip' : 'safetensors');
      expect([...stateDict.keys()].sort()).toEqual(['classifier.0.bias', 'classifier.0.weight', 'classifier.3.bias', 'classifier.3.weight', 'features.0.bias', 'features.0.weight', 'features.3.bias', 'features.3.weight']);
      for (const [k, t] of stateDict) expect(Buffer.compare(bytes(t), bytes(ck.get(`model.${k}`)!)), k).toBe(0);
    }
    const bad = run(['export', '--run', a, '--to', join(root, 'a.onnx2')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe(`convnet export: --to: ${join(root, 'a.onnx2')}: unknown extension '.onnx2' (expected .safetensors, .pth, .pt or .onnx)`);
  }, 120_000);

  it.skipIf(!ort)(`export --to a.onnx runs in onnxruntime with our logits${ort ? '' : ` (skipped: no onnxruntime-node; install with ${ORT_INSTALL})`}`, async () => {
    const e = run(['export', '--run', a, '--checkpoint', 'last', '--to', join(root, 'a.onnx')]);
    expect(e.status, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/a\.onnx: ONNX opset 13, --model small from .*: input 'input' \[batch, 3, 32, 32\] \(normalised with mean \[.*\], std \[.*\]\), output 'logits' \[batch, 4\]/);
    const net = createModel('small', { channels: 3, imageSize: 32, numClasses: 4 });
    net.loadStateDict(loadStateDictFile(join(root, 'a.pth')).stateDict);
    net.eval();
    const x = new Tensor(new Rng(9).normal(3 * 3 * 32 * 32), [3, 3, 32, 32]);
    const ours = Float32Array.from(net.forward(x).data);
    const session = await ort!.InferenceSession.create(join(root, 'a.onnx'));
    const got = (await session.run({ input: new ort!.Tensor('float32', x.data, [3, 3, 32, 32]) })).logits.data as Float32Array;
    ours.forEach((v, i) => expect(Math.abs(got[i] - v), `logit ${i}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(v))));
  }, 60_000);

  it('--weights with 3 classes re-initialises classifier.3; frozen features stay bit-identical; the loss falls; resume keeps them frozen', () => {
    const r = run(['train', '--data', join(root, 'three'), ...common, '--epochs', '3', '--lr', '0.05', '--weights', join(root, 'a.pth'), '--freeze', 'features', '--run', b, '--max-steps', '12']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`--weights: re-initialising classifier.3 (the file's has 4 outputs, this data has 3 classes)`);
    expect(r.stderr).toContain(`--weights: initialised from ${join(root, 'a.pth')} (pth-zip), all but classifier.3`);
    expect(r.stderr).toMatch(/--freeze features: 4 tensors \([\d,]+ parameters\) stay fixed; training 4/);
    const r2 = run(['train', '--resume', b]);
    expect(r2.status, r2.stderr).toBe(0);
    const start = loadStateDictFile(join(root, 'a.pth')).stateDict;
    const end = loadStateDictFile(join(b, 'checkpoints', 'last.safetensors')).stateDict;
    for (const k of ['features.0.weight', 'features.0.bias', 'features.3.weight', 'features.3.bias'])
      expect(Buffer.compare(bytes(end.get(`model.${k}`)!), bytes(start.get(k)!)), k).toBe(0);
    expect(Buffer.compare(bytes(end.get('model.classifier.0.weight')!), bytes(start.get('classifier.0.weight')!))).not.toBe(0);
    expect([...end.get('model.classifier.3.weight')!.shape]).toEqual([3, 256]);
    // the optimiser holds state (momentum) for the 4 trained tensors only
    expect([...end.keys()].filter((k) => k.startsWith('optim.')).length).toBe(4);
    const losses = stepLosses(b);
    expect(losses.length).toBe(18);
    expect(mean(losses.slice(-6))).toBeLessThan(0.7 * mean(losses.slice(0, 6)));
  }, 120_000);

  it('a wrong --weights file for the model is one line naming the file and the key', () => {
    const r = run(['train', '--data', join(root, 'three'), '--model', 'small', '--weights', join(root, 'a.pth'), '--max-steps', '1', '--run', join(root, 'c'), '--crop', '24']);
    expect(r.status).toBe(2);
    // (packing the tree at 24 px is reported first)
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(new RegExp(`^convnet train: --weights: ${join(root, 'a.pth')}: 'classifier.0.weight' is \\[256,\\d+\\], --model small needs \\[256,\\d+\\]$`));
  }, 60_000);
});
