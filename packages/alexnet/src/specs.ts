/**
 * Networks as data: each model is a list of layer specs in three named stages (features, avgpool,
 * classifier: torchvision's state-dict layout, so `features.0.weight` means the same thing everywhere).
 * `summary()` reads shapes, parameters and FLOPs off the specs; `build()` turns them into layers.
 */
import type { Module } from '@convnet/layers';
import { windowOutputSize, type LrnAlphaMode, type SizeRule } from '@convnet/tensor';

export type Init =
  | { kind: 'gaussian'; std: number; bias: number } // the paper: N(0, std²) weights, constant bias
  | { kind: 'pytorch' }; // PyTorch's defaults (kaiming-uniform a=√5 weights, uniform ±1/√fan_in bias)

export type LayerSpec =
  /** `bias: false`: no bias (PyTorch's Conv2d(bias=False), for a convolution followed by batch norm). */
  | { type: 'conv'; out: number; kernel: number; stride?: number; padding?: number; groups?: number; sizeRule?: SizeRule; bias?: boolean; init: Init }
  | { type: 'relu' }
  | { type: 'lrn'; size: number; alpha: number; beta: number; k: number; alphaMode: LrnAlphaMode }
  | { type: 'maxpool'; kernel: number; stride: number; padding?: number; sizeRule?: SizeRule }
  | { type: 'avgpool'; kernel: number; stride: number; padding?: number; sizeRule?: SizeRule }
  | { type: 'adaptiveavg'; size: number }
  | { type: 'dropout'; p: number }
  | { type: 'flatten' }
  | { type: 'linear'; out: number; init: Init }
  /**
   * A layer from another package (a plugin's, e.g. BatchNorm2d from @convnet/kernels-batchnorm): `build` makes
   * it for an input shape [n, c, h, w] (or [n, features]); its output shape and parameters come from the module.
   * `flops(inputShape)` (per image, forward) is optional; `attrs` are the layer's settings by name (what exporters
   * read, e.g. BatchNorm2d's `eps`).
   */
  | { type: 'module'; kind: string; build(inputShape: number[]): Module; flops?(inputShape: number[]): number; attrs?: Record<string, number> };

export interface ModelSpec {
  name: string;
  description: string;
  /** [channels, height, width] of the input the net is designed for. */
  input: [number, number, number];
  features: LayerSpec[];
  /** torchvision's `avgpool` stage (adaptive pooling to 6×6); absent in the paper net. */
  avgpool?: LayerSpec;
  /** Starts with a flatten (implicit). */
  classifier: LayerSpec[];
}

export interface ModelOptions {
  numClasses?: number;
  /** Paper net only: 227 (floor output sizes, PyTorch's rule) or 224 (cuda-convnet's ceil rule). */
  inputSize?: 224 | 227;
  /** Paper net: LRN alpha convention. Default 'paper' (α = 1e-4 applied to the sum as printed). */
  lrnAlphaMode?: LrnAlphaMode;
  /** Input channels for the small nets (1 for MNIST-like data, 3 for CIFAR). */
  channels?: number;
  /** Input height/width for the small nets. */
  imageSize?: number;
}

const gauss = (std: number, bias: number): Init => ({ kind: 'gaussian', std, bias });

/**
 * The 2012 paper's net. Two towers are expressed as groups=2 in conv2, conv4 and conv5 (each tower sees
 * only its own half of the previous layer), conv3 and the FC layers see everything: the same function as
 * the two-GPU original. 60,965,224 parameters.
 */
export function paperSpec(o: ModelOptions = {}): ModelSpec {
  const size = o.inputSize ?? 227;
  const rule: SizeRule = size === 224 ? 'ceil' : 'floor';
  const lrn: LayerSpec = { type: 'lrn', size: 5, alpha: 1e-4, beta: 0.75, k: 2, alphaMode: o.lrnAlphaMode ?? 'paper' };
  const pool: LayerSpec = { type: 'maxpool', kernel: 3, stride: 2, sizeRule: rule };
  return {
    name: 'paper',
    description: `AlexNet as published (Krizhevsky et al. 2012), ${size}×${size} input${size === 224 ? " with cuda-convnet's ceil rule" : ''}`,
    input: [3, size, size],
    features: [
      { type: 'conv', out: 96, kernel: 11, stride: 4, sizeRule: rule, init: gauss(0.01, 0) },
      { type: 'relu' }, lrn, pool,
      { type: 'conv', out: 256, kernel: 5, padding: 2, groups: 2, init: gauss(0.01, 1) },
      { type: 'relu' }, lrn, pool,
      { type: 'conv', out: 384, kernel: 3, padding: 1, init: gauss(0.01, 0) },
      { type: 'relu' },
      { type: 'conv', out: 384, kernel: 3, padding: 1, groups: 2, init: gauss(0.01, 1) },
      { type: 'relu' },
      { type: 'conv', out: 256, kernel: 3, padding: 1, groups: 2, init: gauss(0.01, 1) },
      { type: 'relu' }, pool,
    ],
    classifier: [
      { type: 'linear', out: 4096, init: gauss(0.01, 1) }, { type: 'relu' }, { type: 'dropout', p: 0.5 },
      { type: 'linear', out: 4096, init: gauss(0.01, 1) }, { type: 'relu' }, { type: 'dropout', p: 0.5 },
      { type: 'linear', out: o.numClasses ?? 1000, init: gauss(0.01, 1) },
    ],
  };
}

/** torchvision.models.alexnet: single tower, 64-192-384-256-256, adaptive pooling to 6×6. 61,100,840 parameters. */
export function torchvisionSpec(o: ModelOptions = {}): ModelSpec {
  const init: Init = { kind: 'pytorch' };
  return {
    name: 'torchvision',
    description: "torchvision's AlexNet (state-dict names and weights interchangeable with PyTorch)",
    input: [3, 224, 224],
    features: [
      { type: 'conv', out: 64, kernel: 11, stride: 4, padding: 2, init }, { type: 'relu' },
      { type: 'maxpool', kernel: 3, stride: 2 },
      { type: 'conv', out: 192, kernel: 5, padding: 2, init }, { type: 'relu' },
      { type: 'maxpool', kernel: 3, stride: 2 },
      { type: 'conv', out: 384, kernel: 3, padding: 1, init }, { type: 'relu' },
      { type: 'conv', out: 256, kernel: 3, padding: 1, init }, { type: 'relu' },
      { type: 'conv', out: 256, kernel: 3, padding: 1, init }, { type: 'relu' },
      { type: 'maxpool', kernel: 3, stride: 2 },
    ],
    avgpool: { type: 'adaptiveavg', size: 6 },
    classifier: [
      { type: 'dropout', p: 0.5 }, { type: 'linear', out: 4096, init }, { type: 'relu' },
      { type: 'dropout', p: 0.5 }, { type: 'linear', out: 4096, init }, { type: 'relu' },
      { type: 'linear', out: o.numClasses ?? 1000, init },
    ],
  };
}

/**
 * A small net for 28×28 / 32×32 images (MNIST, Fashion-MNIST, CIFAR) in the spirit of cuda-convnet's
 * examples: two 5×5 conv layers with overlapping 3/2 max-pooling, one hidden FC layer with dropout.
 * Trains Fashion-MNIST to ~91–92% in a few epochs on 2 cores.
 */
export function smallSpec(o: ModelOptions = {}): ModelSpec {
  const c = o.channels ?? 1, s = o.imageSize ?? 28;
  const init: Init = { kind: 'pytorch' };
  return {
    name: 'small',
    description: 'small convnet for 28×28/32×32 images: conv32-pool-conv64-pool-fc256-fc',
    input: [c, s, s],
    features: [
      { type: 'conv', out: 32, kernel: 5, padding: 2, init }, { type: 'relu' },
      { type: 'maxpool', kernel: 3, stride: 2, sizeRule: 'ceil' },
      { type: 'conv', out: 64, kernel: 5, padding: 2, init }, { type: 'relu' },
      { type: 'maxpool', kernel: 3, stride: 2, sizeRule: 'ceil' },
    ],
    classifier: [
      { type: 'linear', out: 256, init }, { type: 'relu' }, { type: 'dropout', p: 0.5 },
      { type: 'linear', out: o.numClasses ?? 10, init },
    ],
  };
}

/**
 * cuda-convnet's "18% CIFAR-10" layout (layers-18pct.cfg): conv32 → max-pool 3/2 → ReLU → LRN(3) → conv32 →
 * ReLU → avg-pool 3/2 → LRN(3) → conv64 → ReLU → avg-pool 3/2 → fc10.
 */
export function cifar18Spec(o: ModelOptions = {}): ModelSpec {
  const c = o.channels ?? 3, s = o.imageSize ?? 32;
  const lrn: LayerSpec = { type: 'lrn', size: 3, alpha: 5e-5, beta: 0.75, k: 1, alphaMode: 'divide-by-size' };
  return {
    name: 'cifar-18pct',
    description: "cuda-convnet's 18%-error CIFAR-10 net (conv-pool-rnorm ×2, conv-pool, fc)",
    input: [c, s, s],
    features: [
      { type: 'conv', out: 32, kernel: 5, padding: 2, init: gauss(1e-4, 0) },
      { type: 'maxpool', kernel: 3, stride: 2, sizeRule: 'ceil' }, { type: 'relu' }, lrn,
      { type: 'conv', out: 32, kernel: 5, padding: 2, init: gauss(0.01, 0) }, { type: 'relu' },
      { type: 'avgpool', kernel: 3, stride: 2, sizeRule: 'ceil' }, lrn,
      { type: 'conv', out: 64, kernel: 5, padding: 2, init: gauss(0.01, 0) }, { type: 'relu' },
      { type: 'avgpool', kernel: 3, stride: 2, sizeRule: 'ceil' },
    ],
    classifier: [{ type: 'linear', out: o.numClasses ?? 10, init: gauss(0.01, 0) }],
  };
}

/** cuda-convnet's "80 sec" CIFAR-10 layout (layers-80sec.cfg): conv32-pool, conv32-avg, conv64-avg, fc64, fc10. */
export function cifar80Spec(o: ModelOptions = {}): ModelSpec {
  const c = o.channels ?? 3, s = o.imageSize ?? 32;
  return {
    name: 'cifar-80sec',
    description: "cuda-convnet's 80-second CIFAR-10 net (26% error)",
    input: [c, s, s],
    features: [
      { type: 'conv', out: 32, kernel: 5, padding: 2, init: gauss(1e-4, 0) },
      { type: 'maxpool', kernel: 3, stride: 2, sizeRule: 'ceil' }, { type: 'relu' },
      { type: 'conv', out: 32, kernel: 5, padding: 2, init: gauss(0.01, 0) }, { type: 'relu' },
      { type: 'avgpool', kernel: 3, stride: 2, sizeRule: 'ceil' },
      { type: 'conv', out: 64, kernel: 5, padding: 2, init: gauss(0.01, 0) }, { type: 'relu' },
      { type: 'avgpool', kernel: 3, stride: 2, sizeRule: 'ceil' },
    ],
    classifier: [
      { type: 'linear', out: 64, init: gauss(0.1, 0) }, { type: 'relu' },
      { type: 'linear', out: o.numClasses ?? 10, init: gauss(0.1, 0) },
    ],
  };
}

/** The models by name; plugins add theirs with `registerModel`. */
export const MODELS: Record<string, (o?: ModelOptions) => ModelSpec> = {
  paper: paperSpec,
  torchvision: torchvisionSpec,
  small: smallSpec,
  'cifar-18pct': cifar18Spec,
  'cifar-80sec': cifar80Spec,
};

/** Adds a model (a plugin's, e.g. 'alexnet-bn' from @convnet/kernels-batchnorm); the same function again is a no-op. */
export function registerModel(name: string, spec: (o?: ModelOptions) => ModelSpec): void {
  if (MODELS[name] && MODELS[name] !== spec) throw new Error(`registerModel: a different model named '${name}' is already registered`);
  MODELS[name] = spec;
}

export function modelSpec(name: string, o: ModelOptions = {}): ModelSpec {
  const f = MODELS[name];
  if (!f) throw new Error(`unknown model '${name}' (known: ${Object.keys(MODELS).join(', ')})`);
  return f(o);
}

export interface LayerSummary {
  /** State-dict prefix, e.g. 'features.0'. */
  name: string;
  /** The spec's layer type; a plugin layer ('module') shows its kind, e.g. 'batchnorm2d'. */
  type: LayerSpec['type'] | string;
  /** Output shape [c, h, w] or [features]. */
  output: number[];
  params: number;
  /** Multiply-adds × 2 per image, forward. */
  flops: number;
}

/** Per-layer output shapes, parameter counts and forward FLOPs per image, computed from the spec alone. */
export function summarize(spec: ModelSpec): { layers: LayerSummary[]; params: number; flops: number } {
  const layers: LayerSummary[] = [];
  let shape: number[] = [...spec.input];
  const visit = (stage: string, i: number | null, l: LayerSpec) => {
    const name = i === null ? stage : `${stage}.${i}`;
    let params = 0, flops = 0;
    const [c, h, w] = shape;
    switch (l.type) {
      case 'conv': {
        const g = l.groups ?? 1, s = l.stride ?? 1, p = l.padding ?? 0, r = l.sizeRule ?? 'floor';
        const oh = windowOutputSize(h, l.kernel, s, p, r), ow = windowOutputSize(w, l.kernel, s, p, r);
        params = l.out * (c / g) * l.kernel * l.kernel + (l.bias === false ? 0 : l.out);
        flops = 2 * l.out * (c / g) * l.kernel * l.kernel * oh * ow;
        shape = [l.out, oh, ow];
        break;
      }
      case 'maxpool': case 'avgpool': {
        const r = l.sizeRule ?? 'floor', p = l.padding ?? 0;
        shape = [c, windowOutputSize(h, l.kernel, l.stride, p, r), windowOutputSize(w, l.kernel, l.stride, p, r)];
        flops = shape[0] * shape[1] * shape[2] * l.kernel * l.kernel;
        break;
      }
      case 'adaptiveavg': shape = [c, l.size, l.size]; break;
      case 'lrn': flops = 2 * l.size * c * h * w; break;
      case 'flatten': shape = [shape.reduce((a, b) => a * b, 1)]; break;
      case 'linear': {
        const inF = shape.reduce((a, b) => a * b, 1);
        params = inF * l.out + l.out;
        flops = 2 * inF * l.out;
        shape = [l.out];
        break;
      }
      case 'module': {
        const m = l.build([1, ...shape]);
        params = m.numParameters();
        flops = l.flops?.(shape) ?? 0;
        shape = m.outputShape([1, ...shape]).slice(1);
        break;
      }
      default: break;
    }
    layers.push({ name, type: l.type === 'module' ? l.kind : l.type, output: [...shape], params, flops });
  };
  spec.features.forEach((l, i) => visit('features', i, l));
  if (spec.avgpool) visit('avgpool', null, spec.avgpool);
  shape = [shape.reduce((a, b) => a * b, 1)];
  spec.classifier.forEach((l, i) => visit('classifier', i, l));
  return {
    layers,
    params: layers.reduce((a, l) => a + l.params, 0),
    flops: layers.reduce((a, l) => a + l.flops, 0),
  };
}

/** A printable table of summarize(). */
export function formatSummary(spec: ModelSpec): string {
  const s = summarize(spec);
  const rows = s.layers.map((l) => [l.name, l.type, l.output.join('×'), l.params.toLocaleString('en-US'), (l.flops / 1e6).toFixed(1)]);
  const head = ['layer', 'type', 'output', 'params', 'MFLOPs'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i >= 3 ? c.padStart(width[i]) : c.padEnd(width[i]))).join('  ');
  return [
    `${spec.name}: ${spec.description}`,
    `input ${spec.input.join('×')}`,
    line(head),
    ...rows.map(line),
    `total: ${s.params.toLocaleString('en-US')} parameters, ${(s.flops / 1e9).toFixed(3)} GFLOPs per image (forward)`,
  ].join('\n');
}
