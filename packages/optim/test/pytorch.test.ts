// Optimisers and schedules against torch.optim (test/fixtures/optim.json, schedules.json).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Tensor } from '@convnet/tensor';
import { Parameter } from '@convnet/layers';
import {
  Adam, AdamW, CosineAnnealingLR, WarmupCosineLR, ExponentialLR, LinearLR, MultiStepLR, ReduceLROnPlateau, SGD, StepLR, type LRScheduler, type Optimizer,
} from '../src/index.js';

const load = (f: string) => JSON.parse(readFileSync(new URL(`../../../test/fixtures/${f}`, import.meta.url), 'utf8'));
const optim = load('optim.json').cases;
const schedules = load('schedules.json').cases;
const extra = load('schedules-extra.json').cases;

describe('optimisers agree with torch.optim over 10 steps (1e-6)', () => {
  for (const run of optim.runs) {
    it(run.name, () => {
      const p = new Parameter('w', Tensor.from(optim.w0.data, optim.w0.shape));
      const a = run.attrs;
      const opt: Optimizer =
        a.optimizer === 'sgd' ? new SGD([p], { lr: a.lr, momentum: a.momentum, weightDecay: a.weightDecay, nesterov: a.nesterov, dampening: a.dampening, rule: a.rule })
        : a.optimizer === 'adam' ? new Adam([p], { lr: a.lr, weightDecay: a.weightDecay })
        : new AdamW([p], { lr: a.lr, weightDecay: a.weightDecay });
      run.trajectory.forEach((want: { data: number[] }, step: number) => {
        p.grad.data.set(optim.grads[step].data);
        opt.step();
        for (let i = 0; i < want.data.length; i++)
          expect(Math.abs(p.value.data[i] - want.data[i]), `step ${step + 1}, element ${i}`).toBeLessThan(1e-6 + 1e-6 * Math.abs(want.data[i]));
      });
    });
  }

  it('state saves and restores exactly: 5 steps, save, 5 more == 10 straight', () => {
    const run = optim.runs.find((r: { name: string }) => r.name === 'sgd_nesterov');
    const make = () => {
      const p = new Parameter('w', Tensor.from(optim.w0.data, optim.w0.shape));
      return { p, opt: new SGD([p], { lr: 0.05, momentum: 0.9, weightDecay: 1e-3, nesterov: true }) };
    };
    const a = make();
    for (let s = 0; s < 5; s++) { a.p.grad.data.set(optim.grads[s].data); a.opt.step(); }
    const saved = a.opt.stateDict();
    const b = make();
    b.p.value.copyFrom(a.p.value);
    b.opt.loadStateDict(saved);
    for (let s = 5; s < 10; s++) { b.p.grad.data.set(optim.grads[s].data); b.opt.step(); }
    expect(Array.from(b.p.value.data).map((v, i) => Math.abs(v - run.trajectory[9].data[i]) < 1e-6)).not.toContain(false);
  });

  it('honours per-parameter lr and decay multipliers (cuda-convnet biases: 2× lr, no decay)', () => {
    const w = new Parameter('w', Tensor.from([1, 1])), b = new Parameter('b', Tensor.from([1, 1]));
    b.lrMult = 2;
    b.decayMult = 0;
    const opt = new SGD([w, b], { lr: 0.1, weightDecay: 0.5 });
    w.grad.data.fill(1);
    b.grad.data.fill(1);
    opt.step();
    expect(w.value.data[0]).toBeCloseTo(1 - 0.1 * (1 + 0.5), 6);
    expect(b.value.data[0]).toBeCloseTo(1 - 0.2 * 1, 6);
  });
});

describe('schedules agree with torch.optim.lr_scheduler', () => {
  for (const s of schedules) {
    it(s.name, () => {
      const p = new Parameter('w', Tensor.zeros([1]));
      const opt = new SGD([p], { lr: s.baseLr });
      const a = s.attrs;
      if (a.kind === 'ReduceLROnPlateau') {
        const sch = new ReduceLROnPlateau(opt, { mode: a.mode, factor: a.factor, patience: a.patience, threshold: a.threshold, thresholdMode: a.thresholdMode, cooldown: a.cooldown });
        const got = s.metrics.map((m: number) => { sch.step(m); return opt.paramGroups[0].lr; });
        got.forEach((lr: number, i: number) => expect(Math.abs(lr - s.lrs[i])).toBeLessThan(1e-12));
        return;
      }
      const sch: LRScheduler =
        a.kind === 'StepLR' ? new StepLR(opt, a.stepSize, a.gamma)
        : a.kind === 'MultiStepLR' ? new MultiStepLR(opt, a.milestones, a.gamma)
        : a.kind === 'ExponentialLR' ? new ExponentialLR(opt, a.gamma)
        : a.kind === 'CosineAnnealingLR' ? new CosineAnnealingLR(opt, a.tMax, a.etaMin)
        : new LinearLR(opt, a.startFactor, a.endFactor, a.totalIters);
      const got = [opt.paramGroups[0].lr];
      for (let e = 1; e < s.lrs.length; e++) { sch.step(); got.push(opt.paramGroups[0].lr); }
      got.forEach((lr, i) => expect(Math.abs(lr - s.lrs[i]), `epoch ${i}: ${lr} vs ${s.lrs[i]}`).toBeLessThan(1e-12));
    });
  }

  it('linear warm-up then cosine (torch SequentialLR of LinearLR + CosineAnnealingLR) = WarmupCosineLR', () => {
    const s = extra.find((c: { name: string }) => c.name === 'warmup_cosine');
    const [lin, cos] = s.attrs.schedulers;
    const p = new Parameter('w', Tensor.zeros([1]));
    const opt = new SGD([p], { lr: s.baseLr });
    const sch = new WarmupCosineLR(opt, s.attrs.milestones[0], s.attrs.milestones[0] + cos.tMax, cos.etaMin, lin.startFactor);
    const got = [opt.paramGroups[0].lr];
    for (let e = 1; e < s.lrs.length; e++) { sch.step(); got.push(opt.paramGroups[0].lr); }
    got.forEach((lr, i) => expect(Math.abs(lr - s.lrs[i]), `epoch ${i}`).toBeLessThan(1e-12 + 1e-12 * s.lrs[i]));
  });

  it('plateau with cooldown 0', () => {
    const s = extra.find((c: { name: string }) => c.name === 'plateau_cooldown0');
    const p = new Parameter('w', Tensor.zeros([1]));
    const opt = new SGD([p], { lr: s.baseLr });
    const a = s.attrs;
    const sch = new ReduceLROnPlateau(opt, { mode: a.mode, factor: a.factor, patience: a.patience, threshold: a.threshold, thresholdMode: a.thresholdMode, cooldown: a.cooldown });
    s.metrics.forEach((m: number, i: number) => { sch.step(m); expect(Math.abs(opt.paramGroups[0].lr - s.lrs[i])).toBeLessThan(1e-12); });
  });

  it('plateau bookkeeping survives save/restore', () => {
    const mk = () => { const p = new Parameter('w', Tensor.zeros([1])); const o = new SGD([p], { lr: 0.1 }); return { o, s: new ReduceLROnPlateau(o, { patience: 1 }) }; };
    const a = mk();
    [1, 0.9, 0.95].forEach((m) => a.s.step(m));
    const b = mk();
    b.s.loadStateDict(a.s.stateDict());
    a.s.step(0.95);
    b.s.step(0.95);
    expect(b.o.paramGroups[0].lr).toBe(a.o.paramGroups[0].lr);
    expect(b.o.paramGroups[0].lr).toBeCloseTo(0.01, 12);
  });
});
