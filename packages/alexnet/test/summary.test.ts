import { describe, expect, it } from 'vitest';
import { formatSummary, modelSpec, summarize } from '../src/specs.js';

describe('summary', () => {
  it('paper net: 60,965,224 parameters and the paper figure shapes, at 227 (floor) and 224 (ceil)', () => {
    for (const inputSize of [227, 224] as const) {
      const s = summarize(modelSpec('paper', { inputSize }));
      expect(s.params).toBe(60_965_224);
      const convs = s.layers.filter((l) => l.type === 'conv').map((l) => l.output.join('x'));
      expect(convs).toEqual(['96x55x55', '256x27x27', '384x13x13', '384x13x13', '256x13x13']);
      const fcs = s.layers.filter((l) => l.type === 'linear').map((l) => l.output[0]);
      expect(fcs).toEqual([4096, 4096, 1000]);
      // ~724 M multiply-adds (anchors.md)
      expect(s.flops / 2 / 1e6).toBeGreaterThan(700);
      expect(s.flops / 2 / 1e6).toBeLessThan(740);
    }
  });

  it('torchvision net: 61,100,840 parameters and its state-dict layer names', () => {
    const s = summarize(modelSpec('torchvision'));
    expect(s.params).toBe(61_100_840);
    expect(s.layers.filter((l) => l.params > 0).map((l) => l.name)).toEqual([
      'features.0', 'features.3', 'features.6', 'features.8', 'features.10', 'classifier.1', 'classifier.4', 'classifier.6',
    ]);
    expect(s.layers.find((l) => l.name === 'avgpool')!.output).toEqual([256, 6, 6]);
  });

  it('small nets infer their shapes for 28×28 and 32×32 inputs', () => {
    expect(summarize(modelSpec('small')).layers.at(-1)!.output).toEqual([10]);
    expect(summarize(modelSpec('small', { channels: 1, imageSize: 28 })).layers[5].output).toEqual([64, 7, 7]);
    expect(summarize(modelSpec('cifar-18pct')).layers.at(-1)!.output).toEqual([10]);
    expect(formatSummary(modelSpec('paper'))).toMatch(/60,965,224 parameters/);
    expect(() => modelSpec('vgg')).toThrow(/unknown model 'vgg' \(known: paper, torchvision/);
  });
});
