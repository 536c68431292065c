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
import { loadStateDictFile, savePth } from '@convnet/layers';

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

describe('preprocessing recorded with the run; EXIF orientation in both presets', () => {
  const t = join(root, 't');
  const figures = (out: string) => /: (\d+) (?:test )?images, 1 view: (top-1 error .*)$/m.exec(out)?.slice(1);

  it('train --preprocess torchvision records it; eval and predict of the run use it by default', () => {
    const r = run(['train', '--data', join(root, 'four'), '--model', 'small', '--batch-size', '16', '--seed', '5', '--lighting', '0', '--epochs', '1', '--max-steps', '4', '--preprocess', 'torchvision', '--run', t]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(t, 'config.json'), 'utf8')).preprocess).toBe('torchvision');
    const state = JSON.parse(loadStateDictFile(join(t, 'checkpoints', 'last.safetensors')).metadata.state!);
    expect(state.config.preprocess).toBe('torchvision');
    expect(state.dataset.mean).toEqual([0.485, 0.456, 0.406]);
    expect(state.dataset.std).toEqual([0.229, 0.224, 0.225]);
    // eval decodes the tree's val files (torchvision's transform at the run's 32 px); --preprocess dataset reads the
    // pack of the same 32×32 PNGs with the run's (ImageNet) normalisation: the same pixels, so the same figures
    const e = run(['eval', '--run', t, '--checkpoint', 'last']);
    expect(e.status, e.stderr).toBe(0);
    expect(e.stdout.split('\n')[0]).toBe(`preprocessing: torchvision (PIL's open + convert('RGB'): stored orientation and colour values; Resize(32) bilinear as PIL, CenterCrop(32), ImageNet mean/std)`);
    const d = run(['eval', '--run', t, '--checkpoint', 'last', '--preprocess', 'dataset']);
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout.split('\n')[0]).toBe("preprocessing: dataset (EXIF orientation, colour profile to sRGB, resize to 32×32, centre 32×32, the run's ImageNet mean/std)");
    expect(figures(e.stdout)?.[0]).toBe('32');
    expect(figures(e.stdout)).toEqual(figures(d.stdout));
    const p = run(['predict', '--run', t, '--checkpoint', 'last', join(root, 'four', 'val', 'c0', '0.png')]);
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout.split('\n')[0]).toBe(`preprocessing: torchvision (PIL's open + convert('RGB'): stored orientation and colour values; Resize(32) bilinear as PIL, CenterCrop(32), ImageNet mean/std)`);
    // a dataset-preset run asked for torchvision's transform says its normalisation differs
    const q = run(['predict', '--run', join(root, 'a'), '--preprocess', 'torchvision', join(root, 'four', 'val', 'c0', '0.png')]);
    expect(q.stdout.split('\n')[0]).toMatch(/; note: the run was trained on its own mean\/std \(--preprocess dataset\)$/);
    const bad = run(['train', '--resume', t, '--preprocess', 'dataset']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe(`convnet train: --preprocess cannot change when resuming ${t} (saved: "torchvision", given: "dataset"): the weights were trained on inputs normalised the saved way; start a new run instead`);
  }, 120_000);

  it('a JPEG stored rotated with EXIF orientation 6: upright with --preprocess dataset, as stored with torchvision (as PIL)', async () => {
    // a horizontal red bar (class c0 of run a); stored turned 90° counter-clockwise, EXIF says turn it back
    const src = join(root, 'four', 'val', 'c0', '0.png');
    const q = { quality: 100, chromaSubsampling: '4:4:4' } as const;
    const up = join(root, 'up.jpg'), turned = join(root, 'exif6.jpg'), bare = join(root, 'no-exif.jpg');
    await sharp(src).jpeg(q).toFile(up);
    const raw = await sharp(src).rotate(270).raw().toBuffer({ resolveWithObject: true });
    const rawImg = () => sharp(raw.data, { raw: { width: raw.info.width, height: raw.info.height, channels: 3 } });
    await rawImg().withMetadata({ orientation: 6 }).jpeg(q).toFile(turned);
    await rawImg().jpeg(q).toFile(bare);
    expect((await sharp(turned).metadata()).orientation).toBe(6);
    const probs = (out: string) => Object.fromEntries(out.split('\n').map((l) => /^\s+([\d.]+)%\s+(.*)$/.exec(l)).filter((m) => m).map((m) => [m![2], Number(m![1])]));
    for (const preset of ['dataset', 'torchvision']) {
      const r = run(['predict', '--run', join(root, 'a'), '--checkpoint', 'last', '--preprocess', preset, up, turned, bare]);
      expect(r.status, r.stderr).toBe(0);
      const parts = r.stdout.split(/^(?=\/)/m).slice(1);
      const [pu, pt, pb] = parts.map(probs);
      // dataset applies the tag: the same answer as upright (measured: within 0.03 points, JPEG rounding);
      // torchvision reads as PIL's open + convert('RGB'), which ignores it: the answer of the untagged copy.
      // The same pixels without the tag are another picture (measured: 2 to 5 points away)
      const same = preset === 'dataset' ? pu : pb;
      for (const c of Object.keys(pu)) expect(Math.abs(pt[c] - same[c]), `${preset} ${c}`).toBeLessThan(0.2);
      expect(Math.max(...Object.keys(pu).map((c) => Math.abs(pb[c] - pu[c]))), `${preset}: no-EXIF copy`).toBeGreaterThan(1);
    }
  }, 60_000);

  it("predict says so when a model's outputs do not depend on the input (the same top-5 for different images)", () => {
    const imgs = [join(root, 'four', 'val', 'c0', '0.png'), join(root, 'four', 'val', 'c1', '0.png'), join(root, 'four', 'val', 'c2', '0.png')];
    const note = "note: every image got the same top-5 in the same order: this model's outputs do not depend on its input yet (trained only a few steps?)";
    const ok = run(['predict', '--run', join(root, 'a'), '--checkpoint', 'last', ...imgs]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).not.toContain('note:');
    // the same net with its last layer's weights zeroed: only the bias is left, whatever the image
    const sd = loadStateDictFile(join(root, 'a.pth')).stateDict;
    sd.get('classifier.3.weight')!.data.fill(0);
    savePth(join(root, 'flat.pth'), sd);
    const flat = run(['predict', '--run', join(root, 'a'), '--checkpoint', 'last', '--weights', join(root, 'flat.pth'), ...imgs]);
    expect(flat.status, flat.stderr).toBe(0);
    expect(flat.stdout.trim().split('\n').at(-1)).toBe(note);
    // one image (or the same one twice) proves nothing either way
    const one = run(['predict', '--run', join(root, 'a'), '--checkpoint', 'last', '--weights', join(root, 'flat.pth'), imgs[0], imgs[0]]);
    expect(one.stdout).not.toContain('note:');
  }, 60_000);
});
