// More PyTorch ground truth (test/fixtures/torch-optim-extra.json, written by test/pytorch/make_fixtures.py in
// this package): ConstantLR, SequentialLR chains, several parameter groups, plateau in max/abs modes with
// per-group floors, optimisers over groups with different settings, lr changing between SGD steps.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Tensor } from '@convnet/tensor';
import { Parameter } from '@convnet/layers';
import { loadScheduleCases } from '../../../test/fixtures/load.mjs';
import {
  Adam, AdamW, ConstantLR, CosineAnnealingLR, ExponentialLR, LinearLR, MultiStepLR, ReduceLROnPlateau, SGD, SequentialLR, StepLR,
  type LRScheduler, type Optimizer, type ParamGroup,
} from '../src/index.js';

interface Stored { shape: number[]; data: number[] }
const fx = JSON.parse(readFileSync(new URL('./fixtures/torch-optim-extra.json', import.meta.url), 'utf8'));

function sgdFor(baseLrs: number[]): SGD {
  return new SGD(baseLrs.map((lr) => ({ params: [new Parameter('w', Tensor.zeros([1]))], lr })), { lr: baseLrs[0] });
}

/** Our scheduler for a spec in the fixtures' naming (see make_fixtures.py). */
function makeSchedule(opt: Optimizer, s: Record<string, any>): LRScheduler {
  switch (s.kind) {
    case 'ConstantLR': return new ConstantLR(opt, s.factor, s.totalIters);
    case 'LinearLR': return new LinearLR(opt, s.startFactor, s.endFactor, s.totalIters);
    case 'StepLR': return new StepLR(opt, s.stepSize, s.gamma);
    case 'MultiStepLR': return new MultiStepLR(opt, s.milestones, s.gamma);
    case 'ExponentialLR': return new ExponentialLR(opt, s.gamma);
    case 'CosineAnnealingLR': return new CosineAnnealingLR(opt, s.tMax, s.etaMin);
    case 'SequentialLR': return new SequentialLR(opt, s.schedulers.map((c: Record<string, any>) => makeSchedule(opt, c)), s.milestones);
    default: throw new Error(`unknown schedule ${s.kind}`);
  }
}

const near = (got: number, want: number) => Math.abs(got - want) <= 1e-12 * Math.max(1, Math.abs(want));

describe(`schedules agree with torch ${fx.torch} (1e-12)`, () => {
  for (const c of fx.schedules) {
    it(c.name, () => {
      const opt = sgdFor(c.baseLrs);
      const lrs = () => opt.paramGroups.map((g) => g.lr);
      const got: number[][] = [];
      if (c.metrics) {
        const p = new ReduceLROnPlateau(opt, { ...c.spec, minLr: c.spec.minLr.length === 1 ? c.spec.minLr[0] : c.spec.minLr });
        for (const m of c.metrics) { p.step(m ?? NaN); got.push(lrs()); }
      } else {
        const s = makeSchedule(opt, c.spec);
        got.push(lrs());
        for (let e = 1; e < c.lrs.length; e++) { s.step(); got.push(lrs()); }
      }
      c.lrs.forEach((want: number[], e: number) => want.forEach((w, g) => expect(near(got[e][g], w), `epoch ${e} group ${g}: ${got[e][g]} vs ${w}`).toBe(true)));
    });
  }

  it('SequentialLR(LinearLR, CosineAnnealingLR) = the shared fixture warmup_cosine', () => {
    const c = loadScheduleCases('schedules-extra.json').find((x) => x.name === 'warmup_cosine')!;
    const opt = sgdFor([c.baseLr]);
    const s = makeSchedule(opt, c.attrs);
    const got = [opt.paramGroups[0].lr];
    for (let e = 1; e < c.lrs.length; e++) { s.step(); got.push(opt.paramGroups[0].lr); }
    c.lrs.forEach((w, e) => expect(near(got[e], w), `epoch ${e}: ${got[e]} vs ${w}`).toBe(true));
  });

  it('every schedule of the shared fixtures restarts exactly from its state at epoch 7', () => {
    for (const c of [...fx.schedules.filter((x: { metrics?: unknown }) => !x.metrics), ...loadScheduleCases('schedules-extra.json').filter((x) => x.attrs.kind === 'SequentialLR').map((x) => ({ ...x, spec: x.attrs, baseLrs: [x.baseLr], lrs: x.lrs.map((l) => [l]) }))]) {
      const a = sgdFor(c.baseLrs), sa = makeSchedule(a, c.spec);
      for (let e = 1; e <= 7; e++) sa.step();
      const saved = JSON.parse(JSON.stringify({ o: { ...a.stateDict(), buffers: [] }, s: sa.stateDict() }));
      const b = sgdFor(c.baseLrs), sb = makeSchedule(b, c.spec);
      b.loadStateDict({ ...saved.o, buffers: new Map() });
      sb.loadStateDict(saved.s);
      for (let e = 8; e < c.lrs.length; e++) {
        sb.step();
        c.lrs[e].forEach((w: number, g: number) => expect(near(b.paramGroups[g].lr, w), `${c.name} epoch ${e}`).toBe(true));
      }
    }
  });
});

describe(`optimisers over parameter groups agree with torch ${fx.torch} (1e-6)`, () => {
  for (const c of fx.optim) {
    it(c.name, () => {
      const params = c.params.map((t: Stored, i: number) => new Parameter(`p${i}`, Tensor.from(t.data, t.shape)));
      const groups: ParamGroup[] = c.groups.map((g: Record<string, any>) => ({ ...g, params: g.params.map((i: number) => params[i]) }));
      const opt: Optimizer =
        c.optimizer === 'sgd' ? new SGD(groups, { lr: c.groups[0].lr })
        : c.optimizer === 'adam' ? new Adam(groups, { lr: c.groups[0].lr })
        : new AdamW(groups, { lr: c.groups[0].lr });
      const sched = c.perStepLr ? new StepLR(opt, c.perStepLr.stepSize, c.perStepLr.gamma) : null;
      c.trajectory.forEach((want: Stored[], step: number) => {
        params.forEach((p: Parameter, i: number) => p.grad.data.set(c.grads[step][i].data));
        opt.step();
        sched?.step();
        params.forEach((p: Parameter, i: number) => {
          for (let k = 0; k < p.value.size; k++)
            expect(Math.abs(p.value.data[k] - want[i].data[k]), `step ${step + 1}, param ${i}[${k}]`).toBeLessThan(1e-6 + 1e-6 * Math.abs(want[i].data[k]));
        });
      });
    });
  }
});
