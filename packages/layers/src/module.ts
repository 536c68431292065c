/**
 * The module contract: named parameters with gradients, train/eval mode, explicit forward/backward.
 *
 * forward(x) caches what backward needs and writes into an output buffer it owns (allocated once per
 * input shape and reused every step); backward(dy) returns dx and OVERWRITES each parameter's grad.
 * So a training step is forward → loss → backward → optimiser step, with no zeroing pass and no
 * allocation after the first step. Outputs stay valid until the module's next forward.
 */
import { OpError, Tensor, describeValue, fmtShape, isTensor, type Shape } from '@convnet/tensor';

export class Parameter {
  /** Gradient, overwritten by each backward. */
  readonly grad: Tensor;
  /**
   * Multipliers applied by optimisers (cuda-convnet's per-layer epsW/epsB and wc): effective
   * lr = group lr × lrMult, weight decay = group decay × decayMult.
   */
  lrMult = 1;
  decayMult = 1;

  constructor(
    public name: string,
    public value: Tensor,
  ) {
    this.grad = Tensor.zeros(value.shape);
  }
}

/** Reuses `buf` when it already has `shape`, else allocates a new tensor. */
export function reuse(buf: Tensor | null, shape: Shape): Tensor {
  if (buf && buf.shape.length === shape.length && buf.shape.every((d, i) => d === shape[i])) return buf;
  return Tensor.zeros(shape);
}

/** A tensor of no elements returned by backward when the input gradient is not needed. */
export const NO_GRAD = Tensor.zeros([0]);

export abstract class Module {
  training = true;
  #backend: string | undefined = undefined;
  /** When false, backward skips computing dx (for the first layer of a net) and returns NO_GRAD. */
  needsInputGrad = true;
  readonly #params = new Map<string, Parameter>();
  readonly #children = new Map<string, Module>();
  readonly #backwardHooks: ((m: Module) => void)[] = [];

  abstract forward(x: Tensor): Tensor;
  abstract backward(dy: Tensor): Tensor;
  /** The output shape for an input shape, without running anything. */
  abstract outputShape(inputShape: Shape): number[];

  /**
   * Registers `fn` to run right after this module's backward whenever a container (Sequential, Parallel)
   * runs it: this module's parameter gradients are then final for the step, so data-parallel training can
   * start reducing them while the layers before it are still in backward. Returns a function that removes it.
   */
  onBackward(fn: (m: Module) => void): () => void {
    this.#backwardHooks.push(fn);
    return () => {
      const i = this.#backwardHooks.indexOf(fn);
      if (i >= 0) this.#backwardHooks.splice(i, 1);
    };
  }

  /** backward(dy), then this module's onBackward hooks. Containers call their children through this. */
  runBackward(dy: Tensor): Tensor {
    const dx = this.backward(dy);
    for (const h of this.#backwardHooks) h(this);
    return dx;
  }

  protected registerParameter(name: string, value: Tensor): Parameter {
    const p = new Parameter(name, value);
    this.#params.set(name, p);
    return p;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    if (!(m instanceof Module)) throw new TypeError(`registerModule('${name}'): expected a Module, got ${typeof m}`);
    this.#children.set(name, m);
    if (this.#backend !== undefined) m.backend = this.#backend;
    return m;
  }

  /**
   * Kernel backend for this module's ops (undefined: the registry default). Assigning it (or calling
   * setBackend) sets it on every descendant too, so `net.backend = 'ref'` moves a whole net.
   */
  get backend(): string | undefined {
    return this.#backend;
  }

  set backend(backend: string | undefined) {
    this.#backend = backend;
    for (const c of this.#children.values()) c.backend = backend;
  }

  train(mode = true): this {
    this.training = mode;
    for (const c of this.#children.values()) c.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  setBackend(backend: string | undefined): this {
    this.backend = backend;
    return this;
  }

  namedChildren(): [string, Module][] {
    return [...this.#children.entries()];
  }

  /** Parameters with PyTorch-style dotted names (`features.0.weight`). */
  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [n, p] of this.#params) out.push([prefix + n, p]);
    for (const [n, c] of this.#children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Total number of parameter elements. */
  numParameters(): number {
    return this.parameters().reduce((a, p) => a + p.value.size, 0);
  }

  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters().map(([n, p]) => [n, p.value]));
  }

  /**
   * Copies values from `sd` into the parameters. strict (default): every name must be present, no extra
   * names, and shapes must match; the error lists every problem at once.
   */
  loadStateDict(sd: Map<string, Tensor>, opts: { strict?: boolean } = {}): void {
    const strict = opts.strict ?? true;
    const own = new Map(this.namedParameters());
    const missing = [...own.keys()].filter((k) => !sd.has(k));
    const unexpected = [...sd.keys()].filter((k) => !own.has(k));
    const mismatched: string[] = [];
    for (const [k, p] of own) {
      const t = sd.get(k);
      if (t && (t.shape.length !== p.value.shape.length || t.shape.some((d, i) => d !== p.value.shape[i])))
        mismatched.push(`${k}: expected ${fmtShape(p.value.shape)}, got ${fmtShape(t.shape)}`);
    }
    const problems = [
      ...(mismatched.length ? [`shape mismatch: ${mismatched.join('; ')}`] : []),
      ...(strict && missing.length ? [`missing: ${missing.join(', ')}`] : []),
      ...(strict && unexpected.length ? [`unexpected: ${unexpected.join(', ')}`] : []),
    ];
    if (problems.length) throw new Error(`loadStateDict: ${problems.join(' | ')}`);
    for (const [k, p] of own) {
      const t = sd.get(k);
      if (t) p.value.data.set(t.data);
    }
  }
}

export function expectRank(layer: string, x: Tensor, rank: number, what: string): void {
  if (!isTensor(x)) throw new OpError(layer, 'input', `a Tensor ${what}`, describeValue(x));
  if (x.rank !== rank) throw new OpError(layer, 'input', `a rank-${rank} tensor ${what}`, `shape ${fmtShape(x.shape)}`);
}
