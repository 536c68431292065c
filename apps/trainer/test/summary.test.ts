// `convnet summary`: the layer settings as PyTorch arguments (pooling kernel, stride, ceil mode too), so the net can
// be rebuilt from the summary; --help lists the models of the built-in plugin (small-bn).
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers.js';

describe('summary', () => {
  it('prints pooling kernel, stride and ceil mode (paper 224: ceil, 227: floor)', () => {
    const p224 = runCli(['summary', '--model', 'paper', '--input-size', '224']);
    expect(p224.status, p224.stderr).toBe(0);
    expect(p224.stdout).toMatch(/^features\.3 +MaxPool2d\(kernel_size=3, stride=2, padding=0, ceil_mode=True\)$/m);
    expect(p224.stdout).toMatch(/^features\.4 +Conv2d\(96, 256, kernel_size=5, stride=1, padding=2, groups=2\)$/m);
    expect(p224.stdout).toMatch(/^classifier\.0 +Linear\(9216, 4096\)$/m);
    const p227 = runCli(['summary', '--model', 'paper']);
    expect(p227.stdout).toMatch(/^features\.14 +MaxPool2d\(kernel_size=3, stride=2, padding=0, ceil_mode=False\)$/m);
    const tv = runCli(['summary', '--model', 'torchvision']);
    expect(tv.stdout).toMatch(/^avgpool +AdaptiveAvgPool2d\(\(6, 6\)\)$/m);
  });

  it('--help lists small-bn and alexnet-bn', () => {
    const h = runCli(['summary', '--help']);
    expect(h.status).toBe(0);
    expect(h.stdout.replace(/\s+/g, ' ')).toMatch(/small-bn/);
    expect(h.stdout.replace(/\s+/g, ' ')).toMatch(/alexnet-bn/);
  });
});
