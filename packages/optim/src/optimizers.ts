/**
 * Optimisers see parameter groups, never layers. Each group has its own lr, momentum and weight decay;
 * a Parameter's lrMult / decayMult scale them (cuda-convnet's per-layer epsW/epsB/wc).
 */
import { Tensor, adamUpdate, alloc, memoryOf, sgdUpdate, toHostTensor, type SgdRule } from '@convnet/tensor';
import type { Parameter } from '@convnet/layers';

export interface GroupOptions {
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  dampening?: number;
  nesterov?: boolean;
  betas?: [number, number];
  eps?: number;
}

export interface ParamGroup extends GroupOptions {
  params: Parameter[];
}

export interface ResolvedGroup {
  params: Parameter[];
  lr: number;
  /** The lr this group started with (schedules scale from it). */
  initialLr: number;
  momentum: number;
  weightDecay: number;
  dampening: number;
  nesterov: boolean;
  betas: [number, number];
  eps: number;
}

/** Optimiser state in a form that saves into safetensors (tensors) + JSON (numbers). */
export interface OptimizerState {
  /** 'SGD', 'Adam' or 'AdamW' (checked on load when present). */
  kind?: string;
  step: number;
  groups: { lr: number; initialLr: number }[];
  /** e.g. 'momentum.3' (param index 3's momentum buffer), 'exp_avg.3', 'exp_avg_sq.3'. */
  buffers: Map<string, Tensor>;
}

export abstract class Optimizer {
  readonly paramGroups: ResolvedGroup[];
  /** Number of step() calls so far. */
  stepCount = 0;
  protected readonly buffers = new Map<string, Tensor>();
  /** Kernel backend of the updates; state buffers live in its memory (contract C3). */
  readonly backend: string | undefined;

  constructor(params: Parameter[] | ParamGroup[], defaults: GroupOptions & { lr: number; backend?: string }) {
    this.backend = defaults.backend;
    const groups: ParamGroup[] = params.length && 'params' in (params[0] as object) ? (params as ParamGroup[]) : [{ params: params as Parameter[] }];
    this.paramGroups = groups.map((g, i) => {
      const r: ResolvedGroup = {
        params: g.params,
        lr: g.lr ?? defaults.lr,
        initialLr: g.lr ?? defaults.lr,
        momentum: g.momentum ?? defaults.momentum ?? 0,
        weightDecay: g.weightDecay ?? defaults.weightDecay ?? 0,
        dampening: g.dampening ?? defaults.dampening ?? 0,
        nesterov: g.nesterov ?? defaults.nesterov ?? false,
        betas: g.betas ?? defaults.betas ?? [0.9, 0.999],
        eps: g.eps ?? defaults.eps ?? 1e-8,
      };
      for (const [k, v] of [['lr', r.lr], ['momentum', r.momentum], ['weightDecay', r.weightDecay], ['eps', r.eps]] as const)
        if (!(typeof v === 'number' && v >= 0 && Number.isFinite(v))) throw new RangeError(`${this.constructor.name}: group ${i}: ${k} must be a non-negative number, got ${v}`);
      if (!r.betas.every((b) => b >= 0 && b < 1)) throw new RangeError(`${this.constructor.name}: group ${i}: betas must be in [0, 1), got ${JSON.stringify(r.betas)}`);
      return r;
    });
    const seen = new Set<Parameter>();
    for (const p of this.allParams()) {
      if (seen.has(p)) throw new Error(`${this.constructor.name}: parameter '${p.name}' appears in more than one place in the parameter groups`);
      seen.add(p);
    }
  }

  /** The state buffer kinds this optimiser keeps per parameter (e.g. 'momentum'). */
  protected abstract readonly bufferKinds: readonly string[];

  /** Every parameter across groups, in order (the index used in state names). */
  protected allParams(): Parameter[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  protected buffer(kind: string, index: number, like: Tensor): Tensor {
    const key = `${kind}.${index}`;
    let b = this.buffers.get(key);
    if (!b) {
      b = alloc(like.shape, this.backend);
      this.buffers.set(key, b);
    }
    return b;
  }

  abstract step(): void;

  stateDict(): OptimizerState {
    return {
      kind: this.constructor.name,
      step: this.stepCount,
      groups: this.paramGroups.map((g) => ({ lr: g.lr, initialLr: g.initialLr })),
      buffers: new Map([...this.buffers].map(([k, v]) => { const h = toHostTensor(v); return [k, h === v ? v.clone() : h]; })),
    };
  }

  loadStateDict(s: OptimizerState): void {
    const me = `${this.constructor.name}.loadStateDict`;
    if (s.kind !== undefined && s.kind !== this.constructor.name) throw new Error(`${me}: state is for ${s.kind}`);
    if (s.groups.length !== this.paramGroups.length)
      throw new Error(`${me}: state has ${s.groups.length} parameter groups, optimiser has ${this.paramGroups.length}`);
    if (!Number.isInteger(s.step) || s.step < 0) throw new Error(`${me}: step must be a non-negative integer, got ${s.step}`);
    const params = this.allParams();
    for (const [k, v] of s.buffers) {
      const dot = k.lastIndexOf('.');
      const kind = k.slice(0, dot), idx = Number(k.slice(dot + 1));
      if (!this.bufferKinds.includes(kind)) throw new Error(`${me}: buffer '${k}' is not ${this.constructor.name} state (its buffers: ${this.bufferKinds.join(', ')})`);
      const p = Number.isInteger(idx) ? params[idx] : undefined;
      if (!p) throw new Error(`${me}: buffer '${k}' names parameter ${k.slice(dot + 1)}, there are ${params.length}`);
      if (v.size !== p.value.size) throw new Error(`${me}: buffer '${k}' has ${v.size} elements, parameter '${p.name}' has ${p.value.size}`);
    }
    this.stepCount = s.step;
    s.groups.forEach((g, i) => {
      this.paramGroups[i].lr = g.lr;
      this.paramGroups[i].initialLr = g.initialLr;
    });
    for (const b of this.buffers.values()) if (memoryOf(b) !== 'host') b.dispose();  // device memory back now
    this.buffers.clear();
    // copied into the parameter's shape (a checkpoint may hold the buffer flat)
    for (const [k, v] of s.buffers) this.buffers.set(k, alloc(params[Number(k.slice(k.lastIndexOf('.') + 1))].value.shape, this.backend).copyFrom(v));
  }
}

export interface SgdOptions extends GroupOptions {
  lr: number;
  /** 'pytorch' (torch.optim.SGD) or 'paper' (v ← μv − ε·wd·w − ε·g; w ← w + v). */
  rule?: SgdRule;
  backend?: string;
}

/** SGD with momentum and weight decay, both formulations, Nesterov; updates run in the `sgdUpdate` kernel. */
export class SGD extends Optimizer {
  protected readonly bufferKinds = ['momentum'] as const;
  readonly rule: SgdRule;

  constructor(params: Parameter[] | ParamGroup[], opts: SgdOptions) {
    super(params, opts);
    this.rule = opts.rule ?? 'pytorch';
  }

  step(): void {
    let index = 0;
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        const fresh = !this.buffers.has(`momentum.${index}`);
        const v = this.buffer('momentum', index, p.value);
        sgdUpdate(p.value, p.grad, v, {
          lr: g.lr * p.lrMult,
          momentum: g.momentum,
          weightDecay: g.weightDecay * p.decayMult,
          dampening: g.dampening,
          nesterov: g.nesterov,
          rule: this.rule,
          firstStep: fresh,
          backend: this.backend,
        });
        index++;
      }
    }
    this.stepCount++;
  }
}

export interface AdamOptions extends GroupOptions {
  lr: number;
  /** AdamW: decoupled weight decay (w ← w − lr·wd·w), else L2 added to the gradient (Adam). */
  decoupled?: boolean;
  backend?: string;
}

/** Adam (Kingma & Ba) with bias correction, as torch.optim.Adam; AdamW with decoupled decay; updates run in the `adamUpdate` kernel. */
export class Adam extends Optimizer {
  protected readonly bufferKinds = ['exp_avg', 'exp_avg_sq'] as const;
  readonly decoupled: boolean;

  constructor(params: Parameter[] | ParamGroup[], opts: AdamOptions) {
    super(params, { ...opts, weightDecay: opts.weightDecay ?? (opts.decoupled ? 1e-2 : 0) });
    this.decoupled = opts.decoupled ?? false;
  }

  step(): void {
    this.stepCount++;
    const t = this.stepCount;
    let index = 0;
    for (const g of this.paramGroups) {
      const [b1, b2] = g.betas;
      for (const p of g.params) {
        const m = this.buffer('exp_avg', index, p.value), v = this.buffer('exp_avg_sq', index, p.value);
        adamUpdate(p.value, p.grad, m, v, {
          lr: g.lr * p.lrMult, beta1: b1, beta2: b2, eps: g.eps, weightDecay: g.weightDecay * p.decayMult,
          decoupled: this.decoupled, step: t, backend: this.backend,
        });
        index++;
      }
    }
  }
}

export class AdamW extends Adam {
  constructor(params: Parameter[] | ParamGroup[], opts: Omit<AdamOptions, 'decoupled'>) {
    super(params, { ...opts, decoupled: true });
  }
}

/**
 * cuda-convnet's convention: weights at the base lr with weight decay, biases at `biasLrMult` × lr (2 in
 * the 2012 net) with no decay. Sets the parameters' multipliers and returns them in one group.
 */
export function biasesWithoutDecay(params: [string, Parameter][], biasLrMult = 2): Parameter[] {
  for (const [name, p] of params) {
    if (name.endsWith('bias')) {
      p.lrMult = biasLrMult;
      p.decayMult = 0;
    }
  }
  return params.map(([, p]) => p);
}
