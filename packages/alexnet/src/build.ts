/** Turns a ModelSpec into layers: a Module with `features`, optional `avgpool`, and `classifier` stages. */
import { Rng, type Shape, type Tensor } from '@convnet/tensor';
import {
  AdaptiveAvgPool2d, AvgPool2d, Conv2d, Dropout, Flatten, Linear, LocalResponseNorm, MaxPool2d, Module, ReLU, Sequential, init,
} from '@convnet/layers';
import { modelSpec, type Init, type LayerSpec, type ModelOptions, type ModelSpec } from './specs.js';

export interface BuildOptions extends ModelOptions {
  /** Seed for initialisation (and, on stream 1, dropout masks). */
  seed?: number;
  backend?: string;
}

function initialise(weight: Tensor, bias: Tensor | null, how: Init, rng: Rng): void {
  if (how.kind === 'pytorch') {
    init.pytorchDefault(weight, bias, rng);
    return;
  }
  init.gaussian(weight, how.std, rng);
  if (bias) init.constant(bias, how.bias);
}

/**
 * A convnet built from a spec: forward = classifier(flatten(avgpool(features(x)))). State-dict names are
 * `features.N.*` / `classifier.N.*`, torchvision's.
 */
export class Net extends Module {
  readonly features: Sequential;
  readonly avgpool: Module | null;
  readonly flatten = new Flatten();
  readonly classifier: Sequential;
  /** Dropout layers draw from this stream; set `dropoutRng.counter` to replay or resume a step exactly. */
  readonly dropoutRng: Rng;

  constructor(readonly spec: ModelSpec, opts: BuildOptions = {}) {
    super();
    const seed = opts.seed ?? 0;
    const initRng = new Rng(seed, 0);
    this.dropoutRng = new Rng(seed, 1);
    let shape: number[] = [1, ...spec.input];
    const make = (l: LayerSpec, prev: Module | null): Module => {
      let m: Module;
      switch (l.type) {
        case 'conv': {
          const c = new Conv2d(shape[1], l.out, l.kernel, { stride: l.stride, padding: l.padding, groups: l.groups, sizeRule: l.sizeRule, bias: l.bias, rng: initRng });
          initialise(c.weight.value, c.bias?.value ?? null, l.init, initRng);
          m = c;
          break;
        }
        case 'linear': {
          const f = new Linear(shape[1], l.out, { rng: initRng });
          initialise(f.weight.value, f.bias?.value ?? null, l.init, initRng);
          m = f;
          break;
        }
        // in place right after a conv/linear (their backward never needs their own output)
        case 'relu': m = new ReLU({ inplace: prev instanceof Conv2d || prev instanceof Linear }); break;
        case 'lrn': m = new LocalResponseNorm(l.size, { alpha: l.alpha, beta: l.beta, k: l.k, alphaMode: l.alphaMode }); break;
        case 'maxpool': m = new MaxPool2d(l.kernel, { stride: l.stride, padding: l.padding, sizeRule: l.sizeRule }); break;
        case 'avgpool': m = new AvgPool2d(l.kernel, { stride: l.stride, padding: l.padding, sizeRule: l.sizeRule }); break;
        case 'adaptiveavg': m = new AdaptiveAvgPool2d(l.size); break;
        case 'dropout': m = new Dropout(l.p, { rng: this.dropoutRng }); break;
        case 'flatten': m = new Flatten(); break;
        case 'module': m = l.build(shape); break;
      }
      shape = m.outputShape(shape);
      return m;
    };
    const stage = (layers: LayerSpec[]) => {
      const mods: Module[] = [];
      for (const l of layers) mods.push(make(l, mods.at(-1) ?? null));
      return new Sequential(mods);
    };
    this.features = this.registerModule('features', stage(spec.features));
    this.avgpool = spec.avgpool ? this.registerModule('avgpool', make(spec.avgpool, null)) : null;
    shape = this.flatten.outputShape(shape);
    this.classifier = this.registerModule('classifier', stage(spec.classifier));
    // the first conv never needs its input gradient
    this.features.inputGrad = false;
    if (opts.backend) this.setBackend(opts.backend);
  }

  outputShape(s: Shape): number[] {
    let shape = this.features.outputShape(s);
    if (this.avgpool) shape = this.avgpool.outputShape(shape);
    return this.classifier.outputShape(this.flatten.outputShape(shape));
  }

  forward(x: Tensor): Tensor {
    let h = this.features.forward(x);
    if (this.avgpool) h = this.avgpool.forward(h);
    return this.classifier.forward(this.flatten.forward(h));
  }

  backward(dy: Tensor): Tensor {
    let g = this.flatten.backward(this.classifier.backward(dy));
    if (this.avgpool) g = this.avgpool.backward(g);
    return this.features.backward(g);
  }

  /** The first convolution's weight (for the filter picture). */
  firstConvWeight(): Tensor | null {
    const c = this.features.layers.find((l) => l instanceof Conv2d) as Conv2d | undefined;
    return c ? c.weight.value : null;
  }
}

/** Builds a model by name: 'paper', 'torchvision', 'small', 'cifar-18pct', 'cifar-80sec'. */
export function createModel(name: string, opts: BuildOptions = {}): Net {
  return new Net(modelSpec(name, opts), opts);
}
