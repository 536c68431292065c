/**
 * The module contract: named parameters with gradients, train/eval mode, explicit forward/backward.
 *
 * forward(x) caches what backward needs and writes into an output buffer it owns (allocated once per
 * input shape and reused every step); backward(dy) returns dx and OVERWRITES each parameter's grad.
 * So a training step is forward → loss → backward → optimiser step, with no zeroing pass and no
 * allocation after the first step. Outputs stay valid until the module's next forward.
 */
import { OpError, Tensor, alloc, describeValue, fmtShape, isTensor, memoryFor, memoryOf, reuseOrAlloc, toHostTensor, type Shape } from '@convnet/tensor';

export class Parameter {
  #grad: Tensor;
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
    this.#grad = alloc(value.shape, memoryOf(value) === 'host' ? 'cpu' : memoryOf(value));
  }

  /** Gradient, overwritten by each backward (in the same memory as the value). */
  get grad(): Tensor {
    return this.#grad;
  }

  /**
   * Moves value and gradient into `backend`'s memory (contract C3: memory belongs to the backend) when they
   * are elsewhere: one copy of the value; the gradient is reallocated (backward overwrites it). A no-op
   * between backends that share host memory (cpu, ref).
   */
  moveTo(backend: string | undefined): void {
    const want = memoryFor(backend);
    if (memoryOf(this.value) === want && memoryOf(this.#grad) === want) return;
    const value = alloc(this.value.shape, backend).copyFrom(this.value);
    const grad = alloc(this.value.shape, backend);
    if (memoryOf(this.value) !== 'host') this.value.dispose();
    if (memoryOf(this.#grad) !== 'host') this.#grad.dispose();
    this.value = value;
    this.#grad = grad;
  }
}

/**
 * `buf` when it already has `shape` and lives in `backend`'s memory, else a new zero-filled tensor there
 * (memory.ts's `alloc`; a replaced device buffer is released).
 */
export function reuse(buf: Tensor | null, shape: Shape, backend?: string): Tensor {
  return reuseOrAlloc(buf, shape, backend);
}

/** A tensor of no elements returned by backward when the input gradient is not needed. */
export const NO_GRAD = Tensor.zeros([0]);

/**
 * The brand every Module carries, as Tensor's (contract C1): a registry symbol (`Symbol.for`), the same in every
 * copy of @convnet/layers, so a module built with another install tree's copy (a plugin's nested dependency, the
 * CJS and the ESM build in one process) is still recognised. Its value is MODULE_ABI: what a module must offer
 * (forward, backward, runBackward, outputShape, namedParameters, namedBuffers, children, stateDict,
 * loadStateDict, train/eval, backend); a copy that changes that bumps the number, and the error names both.
 */
export const MODULE_BRAND: unique symbol = Symbol.for('convnet.module');
export const MODULE_ABI = 1;

/** True for a module of any copy of @convnet/layers with this module ABI (use instead of `instanceof Module`). */
export function isModule(v: unknown): v is Module {
  return typeof v === 'object' && v !== null && (v as { [MODULE_BRAND]?: unknown })[MODULE_BRAND] === MODULE_ABI;
}

/** Why `v` is not a Module of this copy: another copy's ABI is named, as `describeValue` does for tensors. */
export function describeModule(v: unknown): string {
  const abi = typeof v === 'object' && v !== null ? (v as { [MODULE_BRAND]?: unknown })[MODULE_BRAND] : undefined;
  if (abi !== undefined && abi !== MODULE_ABI)
    return `a Module of another @convnet/layers version (module ABI ${String(abi)}; this copy has ${MODULE_ABI}): install one version of @convnet/layers`;
  if (typeof v === 'object' && v !== null) return `an object of class ${(v as object).constructor?.name ?? '(none)'} without the Module brand`;
  return `${v === null ? 'null' : typeof v} (not a Module)`;
}

export abstract class Module {
  training = true;
  #backend: string | undefined = undefined;
  /** When false, backward skips computing dx (for the first layer of a net) and returns NO_GRAD. */
  needsInputGrad = true;
  readonly #params = new Map<string, Parameter>();
  /** State that is not trained (BatchNorm's running statistics): in the state dict, never in an optimiser. */
  readonly #buffers = new Map<string, Tensor>();
  readonly #children = new Map<string, Module>();
  readonly #backwardHooks: ((m: Module) => void)[] = [];

  /** See MODULE_BRAND: read by `isModule`, inherited by every layer. */
  get [MODULE_BRAND](): number {
    return MODULE_ABI;
  }

  /**
   * `m instanceof Module` recognises modules of every copy of the package (by brand); subclasses (`instanceof
   * Sequential`) keep the ordinary prototype check.
   */
  static [Symbol.hasInstance](v: unknown): boolean {
    return this === Module ? isModule(v) : Function.prototype[Symbol.hasInstance].call(this, v);
  }

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

  /** Registers a buffer: saved and loaded with the state dict, moved with the backend, not a parameter. */
  protected registerBuffer(name: string, value: Tensor): Tensor {
    this.#buffers.set(name, value);
    return value;
  }

  /** The buffer registered under `name` (it may have been replaced by a move to another backend's memory). */
  protected buffer(name: string): Tensor {
    const b = this.#buffers.get(name);
    if (!b) throw new Error(`no buffer '${name}'`);
    return b;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    if (!isModule(m)) throw new TypeError(`registerModule('${name}'): expected a Module, got ${describeModule(m)}`);
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
    // parameters follow the backend's memory (a device backend holds them on the device)
    for (const p of this.#params.values()) p.moveTo(backend);
    for (const [n, b] of this.#buffers) {
      if (memoryOf(b) === memoryFor(backend)) continue;
      this.#buffers.set(n, alloc(b.shape, backend).copyFrom(b));
      if (memoryOf(b) !== 'host') b.dispose();
    }
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

  /** Buffers with dotted names (`features.1.running_mean`). */
  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, b] of this.#buffers) out.push([prefix + n, b]);
    for (const [n, c] of this.#children) out.push(...c.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Total number of parameter elements. */
  numParameters(): number {
    return this.parameters().reduce((a, p) => a + p.value.size, 0);
  }

  /** Name → value; values in device memory come back as host copies (one download each), host values as themselves. */
  stateDict(): Map<string, Tensor> {
    const sd = new Map(this.namedParameters().map(([n, p]) => [n, toHostTensor(p.value)]));
    for (const [n, b] of this.namedBuffers()) sd.set(n, toHostTensor(b));
    return sd;
  }

  /**
   * Copies values from `sd` into the parameters. strict (default): every name must be present, no extra
   * names, and shapes must match; the error lists every problem at once.
   */
  loadStateDict(sd: Map<string, Tensor>, opts: { strict?: boolean } = {}): void {
    const strict = opts.strict ?? true;
    const own = new Map<string, { value: Tensor }>(this.namedParameters());
    for (const [n, b] of this.namedBuffers()) own.set(n, { value: b });
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
      if (t) p.value.copyFrom(t);  // an upload when the value lives on a device
    }
  }
}

export function expectRank(layer: string, x: Tensor, rank: number, what: string): void {
  if (!isTensor(x)) throw new OpError(layer, 'input', `a Tensor ${what}`, describeValue(x));
  if (x.rank !== rank) throw new OpError(layer, 'input', `a rank-${rank} tensor ${what}`, `shape ${fmtShape(x.shape)}`);
}
