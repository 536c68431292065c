// `convnet predict --weights FILE.pth --model torchvision` on real photos against PyTorch 1.13 + torchvision 0.14
// (test/pytorch/make_torchvision_fixture.py): the same top-5 in the same order, probabilities within 1e-3.
// The weights are the fixture's integer hash (He-uniform bounds), written here as a .pth by our writer.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '@convnet/tensor';
import { savePth, saveSafetensors } from '@convnet/layers';
import { createModel, modelSpec } from '@convnet/alexnet';
import { readWeights, specParamShapes } from '../src/weights.js';
import { fillFixtureHash as fill } from '../../../test/helpers/fixture-hash.js';

const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const fixtures = new URL('../../../test/fixtures/', import.meta.url).pathname;
const fx: { photos: Record<string, { logits: number[] }> } = JSON.parse(readFileSync(join(fixtures, 'torchvision', 'torchvision.json'), 'utf8'));
const tmp = mkdtempSync(join(tmpdir(), 'convnet-tv-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const run = (args: string[]) => spawnSync('node', [cli, ...args], { encoding: 'utf8', env: { ...process.env, CONVNET_NUM_THREADS: '2' } });

function softmax(l: number[]): number[] {
  const m = Math.max(...l), e = l.map((v) => Math.exp(v - m)), s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** predict's output: per image, [percent, class name] × 5. */
function parsePredict(out: string): Map<string, [number, string][]> {
  const r = new Map<string, [number, string][]>();
  let cur: [number, string][] = [];
  for (const line of out.split('\n')) {
    const m = /^\s+([\d.]+)%\s+(.*)$/.exec(line);
    if (m) cur.push([Number(m[1]) / 100, m[2]]);
    else if (line && !line.startsWith('preprocessing:') && !line.startsWith('note:')) r.set(line, (cur = []));
  }
  return r;
}

describe('predict --weights vs PyTorch', () => {
  const net = createModel('torchvision');
  net.namedParameters().forEach(([n, p], k) => fill(p.value, k, n.endsWith('weight') ? Math.sqrt(6 / p.value.shape.slice(1).reduce((a, b) => a * b, 1)) : 0.01));
  const pth = join(tmp, 'alexnet-hash.pth');
  savePth(pth, net.stateDict());
  const names: string[] = JSON.parse(JSON.stringify(Object.keys(fx.photos)));

  it("a torch.save-format file: PyTorch's top-5 in order, probabilities within 1e-3", () => {
    const photos = names.map((n) => join(fixtures, 'photos', n));
    const r = run(['predict', '--model', 'torchvision', '--weights', pth, ...photos]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('preprocessing: torchvision (EXIF orientation, Resize(256) bilinear as PIL, CenterCrop(224), ImageNet mean/std)');
    expect(r.stdout).not.toContain('note:');
    const got = parsePredict(r.stdout);
    for (const n of names) {
      const p = softmax(fx.photos[n].logits);
      const want = p.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 5);
      const mine = got.get(join(fixtures, 'photos', n))!;
      expect(mine, n).toHaveLength(5);
      // names are ImageNet's short names in torchvision's index order
      const { ILSVRC2012_SHORT_NAMES } = awaitImagenet;
      expect(mine.map(([, c]) => c), n).toEqual(want.map(([, i]) => ILSVRC2012_SHORT_NAMES[i]));
      mine.forEach(([v], j) => expect(Math.abs(v - want[j][0]), `${n} #${j + 1}`).toBeLessThan(1e-3 + 5e-5));
    }
  });

  it("eval --weights on ImageNet WordNet-id folders: top-1/top-5 error as PyTorch's logits give it", () => {
    const { ILSVRC2012_WNIDS } = awaitImagenet;
    // each photo filed under the class PyTorch ranks 0, 0, 2, 4, 5, 30 (hits and misses for both errors)
    const ranks = [0, 0, 2, 4, 5, 30];
    const data = join(tmp, 'val-wnids');
    let top1 = 0, top5 = 0, ce = 0;
    names.forEach((n, i) => {
      const order = fx.photos[n].logits.map((v, j) => [v, j] as const).sort((a, b) => b[0] - a[0]);
      const label = order[ranks[i]][1];
      // the same count the other way: classes scoring above the label's (ties would count as hits)
      const above = fx.photos[n].logits.filter((v) => v > fx.photos[n].logits[label]).length;
      if (above === 0) top1++;
      if (above < 5) top5++;
      // cross-entropy of PyTorch's logits (log-sum-exp minus the label's)
      const l = fx.photos[n].logits, m = Math.max(...l);
      ce += m + Math.log(l.reduce((a, v) => a + Math.exp(v - m), 0)) - l[label];
      mkdirSync(join(data, ILSVRC2012_WNIDS[label]), { recursive: true });
      copyFileSync(join(fixtures, 'photos', n), join(data, ILSVRC2012_WNIDS[label], n));
    });
    expect([top1, top5]).toEqual([2, 4]);
    const r = run(['eval', '--weights', pth, '--model', 'torchvision', '--data', data]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('preprocessing: torchvision (EXIF orientation, Resize(256) bilinear as PIL, CenterCrop(224), ImageNet mean/std)');
    const pct = (k: number) => (100 * (1 - k / 6)).toFixed(2);
    expect(lines[1]).toMatch(new RegExp(`^${pth.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(--model torchvision\\) on .*: 6 images, 1 view: top-1 error ${pct(top1)}%, top-5 error ${pct(top5)}% \\(accuracy ${(100 * top1 / 6).toFixed(2)}%\\), cross-entropy (\\d+\\.\\d{4})$`));
    expect(Number(/cross-entropy (\d+\.\d+)$/.exec(lines[1])![1])).toBeCloseTo(ce / 6, 3);
    // refusals: no --data; folders that do not map to the outputs; --preprocess dataset without a run
    const plain = join(tmp, 'val-plain');
    for (const c of ['cat', 'dog']) {
      mkdirSync(join(plain, c), { recursive: true });
      copyFileSync(join(fixtures, 'photos', names[0]), join(plain, c, names[0]));
    }
    const cases: [string[], string][] = [
      [['--weights', pth], 'convnet eval: --data: the images to evaluate --weights on are required (class folders: DIR/<class>/<images>)'],
      [['--weights', pth, '--data', plain], `convnet eval: --data: ${plain} has 2 class folders, the model has 1000 outputs (folders map to outputs in sorted order; ImageNet WordNet ids map to a 1000-output net's indices)`],
      [['--weights', pth, '--data', data, '--preprocess', 'dataset'], "convnet eval: --preprocess dataset needs a run (--run DIR) for the training set's statistics; without one use --preprocess torchvision"],
      [['--weights', pth, '--data', join(tmp, 'nope')], `convnet eval: --data: ${join(tmp, 'nope')} is not a directory (eval with --preprocess torchvision reads image files in class folders: DIR/<class>/<images>)`],
    ];
    for (const [args, want] of cases) {
      const e = run(['eval', ...args]);
      expect(e.status, args.join(' ')).toBe(2);
      expect(e.stderr.trim()).toBe(want);
    }
  }, 120_000);

  it('the same weights as safetensors with a checkpoint-style model. prefix read to the same state dict', () => {
    const st = join(tmp, 'alexnet.safetensors');
    saveSafetensors(st, new Map([...net.stateDict()].map(([k, v]) => [`model.${k}`, v])));
    const a = readWeights(st), b = readWeights(pth);
    expect(a.format).toBe('safetensors');
    expect(b.format).toBe('pth-zip');
    expect([...a.stateDict.keys()].sort()).toEqual([...b.stateDict.keys()].sort());
    // compare bytes (toEqual on 61M-element arrays takes minutes)
    const bytes = (t: Tensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    for (const [k, v] of b.stateDict) expect(Buffer.compare(bytes(a.stateDict.get(k)!), bytes(v)), k).toBe(0);
    expect(Object.fromEntries([...specParamShapes(modelSpec('torchvision'))])).toEqual(Object.fromEntries(net.namedParameters().map(([k, p]) => [k, [...p.value.shape]])));
  });

  it('wrong model or a broken file: one line naming the file and the key', () => {
    const r = run(['predict', '--model', 'paper', '--weights', pth, join(fixtures, 'photos', 'fruits.jpg')]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(`convnet predict: --weights: ${pth}: 'features.0.weight' is [64,3,11,11], --model paper needs [96,3,11,11]; `);
    expect(r.stderr.trim()).toMatch(/; \d+ more problems \(the file fits --model torchvision\)$/);
    const evil = join(fixtures, 'pth', 'evil.pth');
    const e = run(['predict', '--weights', evil, join(fixtures, 'photos', 'fruits.jpg')]);
    expect(e.status).toBe(2);
    expect(e.stderr.trim().split('\n')).toHaveLength(1);
    expect(e.stderr).toContain(`${evil}: data.pkl: names the global 'posix.system'`);
  });
});

const awaitImagenet = await import('@convnet/imagenet');
