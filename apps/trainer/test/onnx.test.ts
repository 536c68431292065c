// ONNX export checked by onnxruntime-node: the paper net (groups, LRN in the paper's alpha convention, overlapping
// max-pooling) and torchvision's net (adaptive pooling at 224 = identity) give our logits to 1e-4 at batch 1 and 8.
// Weights are He-uniform and inputs large enough that every LRN term matters: exporting the paper's α without the
// ×size conversion is shown to fail the comparison.
import { describe, expect, it } from 'vitest';
import { ORT_INSTALL, loadOrt, type OrtSession } from './ort.js';
import { Rng, Tensor, softmax } from '@convnet/tensor';
import { Net, modelSpec } from '@convnet/alexnet';
import { Conv2d, Linear } from '@convnet/layers';
import { fillFixtureHash } from '../../../test/helpers/fixture-hash.js';
import { onnxModel } from '../src/onnx.js';

const ort = await loadOrt();

type Spec = ReturnType<typeof modelSpec>;
type LayerSpec = Spec['features'][number];

/**
 * The net of `spec` with He-uniform weights (±√6/√fan_in; biases too), so activations keep their size through the
 * net and LRN and every layer matter. The values come from the fixture hash, not Rng: conv and linear layers are
 * built here with a stand-in generator that Conv2d/Linear's PyTorch-default init (±1/√fan_in) draws from, scaled
 * by √6. (Net would draw 2 × 61M uniform numbers from Rng and this test would overwrite them: most of its time.)
 */
function heUniformNet(spec: Spec): Net {
  let k = 0;
  const rng = {
    uniform(n: number, lo: number, hi: number, out: Float32Array) {
      if (lo !== -hi || out.length !== n) throw new Error('heUniformNet: expected a symmetric draw into a buffer');
      fillFixtureHash({ size: n, data: out }, k++, hi * Math.sqrt(6));
      return out;
    },
  } as unknown as Rng;
  const built = (l: LayerSpec): LayerSpec => {
    if (l.type === 'conv') return { type: 'module', kind: 'conv', build: (s) => new Conv2d(s[1], l.out, l.kernel, { stride: l.stride, padding: l.padding, groups: l.groups, sizeRule: l.sizeRule, rng }) };
    if (l.type === 'linear') return { type: 'module', kind: 'linear', build: (s) => new Linear(s[1], l.out, { rng }) };
    return l;
  };
  return new Net({ ...spec, features: spec.features.map(built), classifier: spec.classifier.map(built) });
}

type Session = OrtSession;
async function runOrt(model: Uint8Array | Session, x: Tensor, output: string): Promise<Float32Array> {
  const session = model instanceof Uint8Array ? await ort!.InferenceSession.create(model) : model;
  const r = await session.run({ input: new ort!.Tensor('float32', x.data, [...x.shape]) });
  return r[output].data as Float32Array;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.skipIf(!ort)(`ONNX export vs onnxruntime-node${ort ? '' : ` (skipped: no onnxruntime-node; install with ${ORT_INSTALL})`}`, () => {
  for (const name of ['paper', 'torchvision'] as const)
    it(`${name}: logits to 1e-4 at batch 1 and 8`, async () => {
      const spec = modelSpec(name);
      const net = heUniformNet(spec);
      const rng = new Rng(16, 13);
      net.eval();
      const size = spec.input[1];
      const x8 = new Tensor(rng.normal(8 * 3 * size * size, 0, 30), [8, 3, size, size]);
      const ours8 = Float32Array.from(net.forward(x8).data);
      const scale = Math.max(1, ...Array.from(ours8, Math.abs));
      const model = await ort!.InferenceSession.create(onnxModel(spec, net.stateDict()));
      const ort8 = await runOrt(model, x8, 'logits');
      expect(ort8.length).toBe(8 * 1000);
      expect(maxAbsDiff(ort8, ours8) / scale, 'batch 8').toBeLessThan(1e-4);
      const x1 = new Tensor(x8.data.slice(0, 3 * size * size), [1, 3, size, size]);
      const ort1 = await runOrt(model, x1, 'logits');
      expect(maxAbsDiff(ort1, ours8.subarray(0, 1000)) / scale, 'batch 1').toBeLessThan(1e-4);
    }, 120_000);

  it('small-bn (the default net): BatchNorm2d as BatchNormalization with its running statistics, convolutions without bias', async () => {
    const { createModel } = await import('@convnet/alexnet');
    await import('../src/plugins.js').then((m) => m.loadBuiltinPlugins());
    const spec = modelSpec('small-bn');
    expect(spec.features.filter((l) => l.type === 'module').length).toBe(3);
    const net = createModel('small-bn', { seed: 3 });
    const rng = new Rng(18, 1);
    // running statistics and affine parameters far from their initial 0/1, so a wrong mapping shows
    for (const [name, t] of net.stateDict()) {
      if (name.endsWith('running_var')) t.data.set(rng.uniform(t.size, 0.5, 2));
      else if (name.endsWith('running_mean')) t.data.set(rng.uniform(t.size, -0.5, 0.5));
      else if (/features\.\d+\.(weight|bias)$/.test(name) && t.shape.length === 1) t.data.set(rng.uniform(t.size, 0.5, 1.5));
    }
    net.eval();
    const x = new Tensor(rng.normal(4 * 28 * 28), [4, 1, 28, 28]);
    const ours = Float32Array.from(net.forward(x).data);
    const scale = Math.max(1, ...Array.from(ours, Math.abs));
    expect(maxAbsDiff(await runOrt(onnxModel(spec, net.stateDict()), x, 'logits'), ours) / scale).toBeLessThan(1e-4);
  });

  it("LRN's alpha convention and the softmax output, on a small net of the paper's layers", async () => {
    const base = modelSpec('paper');
    const lrn = base.features.find((l) => l.type === 'lrn')!;
    expect(lrn).toMatchObject({ alphaMode: 'paper', size: 5 });
    const spec = {
      ...base, name: 'tiny', input: [3, 19, 19],
      features: [
        { type: 'conv', out: 12, kernel: 5, stride: 2, groups: 1, init: { kind: 'pytorch' } }, { type: 'relu' }, lrn,
        { type: 'maxpool', kernel: 3, stride: 2 },
        { type: 'conv', out: 8, kernel: 3, padding: 1, groups: 2, init: { kind: 'pytorch' } }, { type: 'relu' },
      ],
      avgpool: null,
      classifier: [{ type: 'dropout', p: 0.5 }, { type: 'linear', out: 10, init: { kind: 'pytorch' } }],
    } as unknown as ReturnType<typeof modelSpec>;
    const net = new Net(spec, { seed: 4 });
    const rng = new Rng(17, 2);
    for (const [, p] of net.namedParameters()) p.value.data.set(rng.uniform(p.value.size, -0.3, 0.3));
    net.eval();
    const x = new Tensor(rng.normal(2 * 3 * 19 * 19, 0, 30), [2, 3, 19, 19]);
    const ours = Float32Array.from(net.forward(x).data);
    const scale = Math.max(1, ...Array.from(ours, Math.abs));
    expect(maxAbsDiff(await runOrt(onnxModel(spec, net.stateDict()), x, 'logits'), ours) / scale).toBeLessThan(1e-4);
    const probs = await runOrt(onnxModel(spec, net.stateDict(), { softmax: true }), x, 'probs');
    expect(maxAbsDiff(probs, softmax(new Tensor(ours, [2, 10])).data)).toBeLessThan(1e-5);
    // α written as printed, without the ×size that ONNX's convention needs: clearly different
    const wrong = { ...spec, features: spec.features.map((l) => (l.type === 'lrn' ? { ...l, alphaMode: 'divide-by-size' as const } : l)) };
    expect(maxAbsDiff(await runOrt(onnxModel(wrong, net.stateDict()), x, 'logits'), ours) / scale).toBeGreaterThan(1e-2);
  });
});
