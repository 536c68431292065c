/** Containers: Sequential chains modules; Parallel runs branches (towers) and concatenates channels. */
import { OpError, Tensor, add, fmtShape, memoryOf, type Shape } from '@convnet/tensor';
import { Activation, AdaptiveAvgPool2d, Dropout, Flatten, LocalResponseNorm, Softmax } from './layers.js';
import { Module, NO_GRAD, reuse } from './module.js';

/** The leaves of a module, Sequentials expanded (a Parallel or any other module is one leaf). */
function leaves(name: string, m: Module): [string, Module][] {
  if (!(m instanceof Sequential)) return [[name, m]];
  return m.namedChildren().flatMap(([n, c]) => leaves(name ? `${name}.${n}` : n, c));
}

/** Whether m overwrites its input in forward (and dy in backward): an in-place ReLU. */
const isInPlace = (m: Module) => m instanceof Activation && m.inplace;

/**
 * An in-place ReLU overwrites the output of the layer before it. That is only safe when that layer's
 * backward never reads its own output. LRN, Softmax and the non-ReLU neurons do (tanh' = 1 − y², ...),
 * so an in-place ReLU after them would give wrong gradients silently: refuse it when the net is built.
 * Flatten, AdaptiveAvgPool2d (identity at equal size) and Dropout (identity in eval) can hand their input
 * through unchanged, so the check looks past them.
 */
function checkInPlace(op: string, flat: [string, Module][]): void {
  for (let i = 1; i < flat.length; i++) {
    if (!isInPlace(flat[i][1])) continue;
    let j = i - 1;
    while (j > 0 && (flat[j][1] instanceof Flatten || flat[j][1] instanceof AdaptiveAvgPool2d || flat[j][1] instanceof Dropout)) j--;
    const [pn, prev] = flat[j];
    const readsOutput = prev instanceof LocalResponseNorm || prev instanceof Softmax || (prev instanceof Activation && prev.fn !== 'relu');
    if (readsOutput)
      throw new OpError(op, `layer '${flat[i][0]}'`, `no in-place ReLU after ${prev.constructor.name} '${pn}' (its backward reads the output the ReLU would overwrite)`, 'ReLU({ inplace: true }); use ReLU() there');
  }
}

/** Runs children in order. Children are named '0', '1', ... (or by the keys given), as in PyTorch. */
export class Sequential extends Module {
  readonly layers: Module[];

  constructor(layers: Module[] | Record<string, Module>) {
    super();
    const entries = Array.isArray(layers) ? layers.map((m, i) => [String(i), m] as const) : Object.entries(layers);
    for (const [name, m] of entries) this.registerModule(name, m);
    this.layers = entries.map(([, m]) => m);
    checkInPlace('Sequential', leaves('', this));
  }

  outputShape(s: Shape): number[] {
    let shape = [...s];
    for (const l of this.layers) shape = l.outputShape(shape);
    return shape;
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (const l of this.layers) h = l.forward(h);
    return h;
  }

  backward(dy: Tensor): Tensor {
    let g = dy;
    for (let i = this.layers.length - 1; i >= 0; i--) g = this.layers[i].runBackward(g);
    return g;
  }

  /** Propagates to the first layer, so a net's first conv skips its input gradient. */
  set inputGrad(v: boolean) {
    setInputGrad(this, v);
  }

  get inputGrad(): boolean {
    return this.needsInputGrad;
  }
}

/** Sets needsInputGrad on m and on the modules that receive m's input (first layers, towers). */
function setInputGrad(m: Module, v: boolean): void {
  m.needsInputGrad = v;
  if (m instanceof Sequential && m.layers.length) setInputGrad(m.layers[0], v);
  if (m instanceof Parallel) for (const b of m.branches) setInputGrad(b, v);
}

/**
 * Copies channel block [c0, c0 + cs) of x [n, c, ...] into y [n, cs, ...] (or back, with `into`). Host tensors
 * copy through their arrays; otherwise through views, so device tensors copy on the device (one copy per image).
 */
function copyChannels(x: Tensor, c0: number, y: Tensor, into = false): void {
  const n = x.shape[0], c = x.shape[1], cs = y.shape[1];
  const inner = x.size / (n * c);
  if (memoryOf(x) === 'host' && memoryOf(y) === 'host') {
    for (let i = 0; i < n; i++) {
      const xo = (i * c + c0) * inner, yo = i * cs * inner;
      if (into) x.data.set(y.data.subarray(yo, yo + cs * inner), xo);
      else y.data.set(x.data.subarray(xo, xo + cs * inner), yo);
    }
    return;
  }
  const xf = x.reshape([x.size]), yf = y.reshape([y.size]);
  for (let i = 0; i < n; i++) {
    const xo = (i * c + c0) * inner, yo = i * cs * inner;
    const xs = xf.batch(xo, xo + cs * inner), ys = yf.batch(yo, yo + cs * inner);
    if (into) xs.copyFrom(ys);
    else ys.copyFrom(xs);
    xs.dispose();
    ys.dispose();
  }
  xf.dispose();
  yf.dispose();
}

/**
 * Towers: branches run side by side and their outputs are concatenated along channels (axis 1).
 * input 'shared': every branch sees the whole input (dx = Σ branch dx). input 'split': the input's channels
 * are divided evenly, branch i seeing block i, as each GPU of the 2012 net saw only its own half.
 */
export class Parallel extends Module {
  readonly branches: Module[];
  readonly input: 'shared' | 'split';
  #inShape: Shape | null = null;
  #outs: Tensor[] = [];
  #parts: Tensor[] = [];
  #y: Tensor | null = null;
  #dyParts: Tensor[] = [];
  #dx: Tensor | null = null;

  constructor(branches: Module[], opts: { input?: 'shared' | 'split' } = {}) {
    super();
    if (!branches.length) throw new OpError('Parallel', 'branches', 'at least one module', 'none');
    branches.forEach((b, i) => this.registerModule(String(i), b));
    this.branches = branches;
    this.input = opts.input ?? 'shared';
    if (this.input === 'shared')
      branches.forEach((b, i) => {
        const [name, first] = leaves(String(i), b)[0] ?? [];
        // a tower that overwrites the shared input would corrupt what the next tower sees
        if (first && isInPlace(first))
          throw new OpError('Parallel', `layer '${name}'`, "no in-place ReLU at the start of a tower with input 'shared'", 'ReLU({ inplace: true })');
      });
  }

  /** When false, backward still writes every tower's parameter gradients but skips dx. */
  set inputGrad(v: boolean) {
    setInputGrad(this, v);
  }

  get inputGrad(): boolean {
    return this.needsInputGrad;
  }

  #branchInput(s: Shape): number[] {
    if (this.input === 'shared') return [...s];
    if (s[1] % this.branches.length) throw new OpError('Parallel', 'input', `channels divisible by ${this.branches.length} towers`, fmtShape(s));
    return [s[0], s[1] / this.branches.length, ...s.slice(2)];
  }

  outputShape(s: Shape): number[] {
    const outs = this.branches.map((b) => b.outputShape(this.#branchInput(s)));
    for (const o of outs)
      if (o.length !== outs[0].length || o[0] !== outs[0][0] || o.slice(2).some((d, i) => d !== outs[0][i + 2]))
        throw new OpError('Parallel', 'branches', 'outputs that differ only in channels', outs.map(fmtShape).join(' vs '));
    return [outs[0][0], outs.reduce((a, o) => a + o[1], 0), ...outs[0].slice(2)];
  }

  forward(x: Tensor): Tensor {
    this.#inShape = x.shape;
    const bs = this.#branchInput(x.shape);
    this.#y = reuse(this.#y, this.outputShape(x.shape), this.backend);
    let c0 = 0;
    this.#outs = this.branches.map((b, i) => {
      let input = x;
      if (this.input === 'split') {
        this.#parts[i] = reuse(this.#parts[i] ?? null, bs, this.backend);
        copyChannels(x, i * bs[1], this.#parts[i]);
        input = this.#parts[i];
      }
      const out = b.forward(input);
      copyChannels(this.#y!, c0, out, true);
      c0 += out.shape[1];
      return out;
    });
    return this.#y;
  }

  backward(dy: Tensor): Tensor {
    if (!this.#inShape) throw new Error('Parallel.backward called before forward');
    if (this.needsInputGrad) this.#dx = reuse(this.#dx, this.#inShape, this.backend);
    let c0 = 0;
    const bs = this.#branchInput(this.#inShape);
    this.branches.forEach((b, i) => {
      this.#dyParts[i] = reuse(this.#dyParts[i] ?? null, this.#outs[i].shape, this.backend);
      copyChannels(dy, c0, this.#dyParts[i]);
      c0 += this.#outs[i].shape[1];
      const g = b.runBackward(this.#dyParts[i]);
      if (!this.needsInputGrad) return;
      if (this.input === 'split') copyChannels(this.#dx!, i * bs[1], g, true);
      else if (i === 0) this.#dx!.copyFrom(g);
      else add(this.#dx!, g, { out: this.#dx!, backend: this.backend });
    });
    return this.needsInputGrad ? this.#dx! : NO_GRAD;
  }
}

