import { describe, expect, it } from 'vitest';
import { Rng, Tensor } from '@convnet/tensor';
import { CrossEntropyLoss } from '@convnet/layers';
import { createModel, summarize } from '../src/index.js';

describe('built models', () => {
  it('paper net: exact parameter count, paper init, per-layer shapes, 227 and 224 inputs', () => {
    for (const inputSize of [227, 224] as const) {
      const net = createModel('paper', { inputSize, seed: 1 });
      expect(net.numParameters()).toBe(60_965_224);
      expect(net.outputShape([2, 3, inputSize, inputSize])).toEqual([2, 1000]);
      const sd = net.stateDict();
      // biases 1 in conv2, conv4, conv5 and the FC layers, 0 in conv1 and conv3
      expect(sd.get('features.4.bias')!.data.every((v) => v === 1)).toBe(true);
      expect(sd.get('features.8.bias')!.data.every((v) => v === 0)).toBe(true);
      expect(sd.get('classifier.6.bias')!.data.every((v) => v === 1)).toBe(true);
      const w = sd.get('classifier.0.weight')!.data;
      let s2 = 0;
      for (let i = 0; i < 100_000; i++) s2 += w[i] * w[i];
      expect(Math.sqrt(s2 / 100_000)).toBeCloseTo(0.01, 3);
      expect(sd.get('features.4.weight')!.shape).toEqual([256, 48, 5, 5]);
    }
  });

  it('torchvision net: 61,100,840 parameters with torchvision state-dict names', () => {
    const net = createModel('torchvision');
    expect(net.numParameters()).toBe(61_100_840);
    expect([...net.stateDict().keys()]).toEqual([
      'features.0.weight', 'features.0.bias', 'features.3.weight', 'features.3.bias', 'features.6.weight', 'features.6.bias',
      'features.8.weight', 'features.8.bias', 'features.10.weight', 'features.10.bias', 'classifier.1.weight', 'classifier.1.bias',
      'classifier.4.weight', 'classifier.4.bias', 'classifier.6.weight', 'classifier.6.bias',
    ]);
  });

  it('small net trains a step on cpu and agrees with ref', () => {
    const x = new Tensor(new Rng(3).normal(4 * 28 * 28), [4, 1, 28, 28]);
    const labels = Int32Array.from([1, 2, 3, 4]);
    const run = (backend: string) => {
      const net = createModel('small', { seed: 5, backend });
      const ce = new CrossEntropyLoss();
      ce.backend = backend;
      const r = ce.forward(net.forward(x), labels);
      net.backward(ce.backward());
      return { loss: r.loss, grad: net.stateDict().size && net.namedParameters()[0][1].grad.clone() };
    };
    const a = run('cpu'), b = run('ref');
    expect(a.loss).toBeCloseTo(b.loss, 4);
    const ga = a.grad as Tensor, gb = b.grad as Tensor;
    for (let i = 0; i < ga.size; i++) expect(Math.abs(ga.data[i] - gb.data[i])).toBeLessThan(1e-4 + 1e-3 * Math.abs(gb.data[i]));
    expect(summarize(createModel('small').spec).params).toBe(createModel('small').numParameters());
  });
});
