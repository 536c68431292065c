#!/usr/bin/env node
// Times the CPU addon's three kernels on the BatchNorm layers of the small VGG-style net (conv32-bn-conv32-bn-pool-
// conv64-bn-conv64-bn-pool-fc, Fashion-MNIST 28x28, batch 128): x [128,32,28,28] and [128,64,14,14], two layers of
// each. Prints ms per call (median of --reps) at each thread count, the sum for one training step (4 forwards in
// training mode + 4 backwards) and for one test batch (4 inference forwards), and the largest error against the
// float64 `ref` kernels.
//   node bench/bn.mjs [--threads 1,2] [--reps 15] [--batch 128] [--cold] [--baseline path/to/other/convnet_batchnorm.node]
//   node bench/bn.mjs --net [--threads 1,2] [--steps 20] [--baseline ...]
// --net times the 4 BatchNorm2d layers inside whole training steps of that net (random data; ms of the BN layers'
// forward + backward per step, and the step), the kernels bound to `cpu` through the package's registration; with
// --baseline, steps alternate between the two builds. In a step the layers find the caches as the convolutions
// left them, so these are the figures that add up to a training step's time.
// --cold writes 64 MB of other memory before each timed call (untimed), so the tensors come from DRAM as in a
// training step (where the layer before wrote x long enough ago), not from the cache.
// --baseline times a second build of the addon (say, an older commit's) in the same run, interleaved call by call,
// and prints new/old ratios; a build that ignores the `threads` attribute runs on one thread.
// Build the package first (pnpm build, and the addon: pnpm run rebuild).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { values: o } = parseArgs({
  options: {
    threads: { type: 'string', default: '1,2' },
    reps: { type: 'string', default: '15' },
    batch: { type: 'string', default: '128' },
    baseline: { type: 'string' },
    addon: { type: 'string' },
    cold: { type: 'boolean', default: false },
    net: { type: 'boolean', default: false },
    steps: { type: 'string', default: '20' },
  },
});
const fail = (msg) => {
  console.error(`bench/bn.mjs: ${msg}`);
  process.exit(2);
};
const threads = o.threads.split(',').map(Number);
if (threads.some((t) => !Number.isInteger(t) || t < 1 || t > 1024)) fail(`--threads: expected integers in 1..1024 separated by commas, got '${o.threads}'`);
const reps = Number(o.reps), batch = Number(o.batch);
if (!Number.isInteger(reps) || reps < 1) fail(`--reps: expected a positive integer, got '${o.reps}'`);
if (!Number.isInteger(batch) || batch < 1) fail(`--batch: expected a positive integer, got '${o.batch}'`);

const load = (p, flag) => {
  try {
    return require(resolve(p));
  } catch (e) {
    fail(`${flag} ${p}: cannot load the addon (${e.message.split('\n')[0]}); build it with 'pnpm run rebuild'`);
  }
};
const addon = load(o.addon ?? resolve(here, '../build/Release/convnet_batchnorm.node'), '--addon');
const base = o.baseline ? load(o.baseline, '--baseline') : null;
const { batchNormTrainCore, batchNormInferenceCore, batchNormBackwardCore } = await import('../dist/index.js').catch(() =>
  fail("cannot import ../dist/index.js: run 'pnpm build' first"));

// deterministic inputs: x ~ mean 0.5, std 1.3 (post-conv activations), dy ~ small
let seed = 12345;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const normal = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
const fill = (len, s, m) => Float32Array.from({ length: len }, () => normal() * s + m);
const median = (v) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)];


if (o.net) {
  const steps = Number(o.steps);
  if (!Number.isInteger(steps) || steps < 1) fail(`--steps: expected a positive integer, got '${o.steps}'`);
  const { Rng, Tensor, native, registerKernel } = await import('@convnet/tensor');
  const { Conv2d, ReLU, MaxPool2d, Flatten, Linear, CrossEntropyLoss } = await import('@convnet/layers');
  const { BatchNorm2d, registerBatchNorm } = await import('../dist/index.js');
  registerBatchNorm();
  const dimsOf = (x) => ({ n: x.shape[0], c: x.shape[1], plane: x.shape[2] * x.shape[3] });
  // binds one build's kernels to `cpu` (as src/register.ts does) on t threads
  const use = (n, t) => {
    registerKernel('batchNorm2d', 'cpu', ({ x, weight, bias }, at, r) => n.batchNorm2d({ ...dimsOf(x), ...at, threads: t }, x.data, weight.data, bias.data,
      r.y.data, r.saveMean.data, r.saveInvStd.data, r.runningMean.data, r.runningVar.data));
    registerKernel('batchNorm2dInference', 'cpu', (i, at, { y }) => n.batchNorm2dInference({ ...dimsOf(i.x), ...at, threads: t }, i.x.data,
      i.weight.data, i.bias.data, i.runningMean.data, i.runningVar.data, y.data));
    registerKernel('batchNorm2dBackward', 'cpu', (i, _a, r) => n.batchNorm2dBackward({ ...dimsOf(i.x), threads: t }, i.x.data, i.dy.data,
      i.weight.data, i.saveMean.data, i.saveInvStd.data, r.dx.data, r.dweight.data, r.dbias.data));
  };
  const rng = new Rng(1);
  const conv = (i, c) => new Conv2d(i, c, 3, { padding: 1, rng });
  const layers = [conv(1, 32), new BatchNorm2d(32), new ReLU({ inplace: true }), conv(32, 32), new BatchNorm2d(32), new ReLU({ inplace: true }),
    new MaxPool2d(2), conv(32, 64), new BatchNorm2d(64), new ReLU({ inplace: true }), conv(64, 64), new BatchNorm2d(64), new ReLU({ inplace: true }),
    new MaxPool2d(2), new Flatten(), new Linear(64 * 7 * 7, 256, { rng }), new ReLU({ inplace: true }), new Linear(256, 10, { rng })];
  layers[0].needsInputGrad = false;
  const x = new Tensor(Float32Array.from(rng.normal(batch * 784)), [batch, 1, 28, 28]);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
  const loss = new CrossEntropyLoss();
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  const builds = base ? [['new', addon], ['baseline', base]] : [['new', addon]];
  console.log(`batch norm in training steps of conv32-bn-conv32-bn-pool-conv64-bn-conv64-bn-pool-fc256-fc10, batch ${batch}, ` +
    `median of ${steps} steps; isa ${addon.info().isa}`);
  for (const t of threads) {
    native().setNumThreads(t);
    const r = Object.fromEntries(builds.map(([k]) => [k, { bn: [], step: [] }]));
    for (let s = 0; s < (steps + 2) * builds.length; s++) {
      const [k, a] = builds[s % builds.length];
      use(a, t);
      let bn = 0, h = x;
      const t0 = now();
      for (const l of layers) {
        const a0 = now();
        h = l.forward(h);
        if (l instanceof BatchNorm2d) bn += now() - a0;
      }
      loss.forward(h, labels);
      let g = loss.backward();
      for (let i = layers.length - 1; i >= 0; i--) {
        const a0 = now();
        g = layers[i].backward(g);
        if (layers[i] instanceof BatchNorm2d) bn += now() - a0;
      }
      if (s >= 2 * builds.length) {
        r[k].bn.push(bn);
        r[k].step.push(now() - t0);
      }
    }
    const line = (k) => `4 BN layers ${median(r[k].bn).toFixed(2).padStart(7)} ms of a ${median(r[k].step).toFixed(1).padStart(6)} ms step`;
    console.log(`threads ${t}: ${line('new')}${base ? `   baseline: ${line('baseline')}   BN new/baseline ${(median(r.new.bn) / median(r.baseline.bn)).toFixed(3)}` : ''}`);
  }
  process.exit(0);
}

const shapes = [[batch, 32, 28, 28], [batch, 64, 14, 14]];
const layersPerShape = 2;
console.log(`batch norm CPU kernels, ms per call (median of ${reps}${o.cold ? ', cold caches' : ''}); isa ${addon.info ? addon.info().isa : '?'}; ` +
  `default threads ${addon.info ? addon.info().threads : '?'}${base ? `; baseline ${o.baseline}` : ''}`);

function setup(shape) {
  const [n, c, h, w] = shape, len = n * c * h * w;
  return {
    d: { n, c, plane: h * w }, len, c,
    x: fill(len, 1.3, 0.5), dy: fill(len, 0.01, 0), w: fill(c, 0.2, 1), b: fill(c, 0.1, 0),
    rm: fill(c, 0.1, 0.5), rv: Float32Array.from(fill(c, 0.3, 1.7), Math.abs),
    y: new Float32Array(len), dx: new Float32Array(len), mean: new Float32Array(c), inv: new Float32Array(c),
    dw: new Float32Array(c), db: new Float32Array(c), rmT: new Float32Array(c), rvT: new Float32Array(c),
  };
}
const calls = {
  train: (a, s, t) => a.batchNorm2d({ ...s.d, eps: 1e-5, momentum: 0.1, threads: t }, s.x, s.w, s.b, s.y, s.mean, s.inv, s.rmT, s.rvT),
  inference: (a, s, t) => a.batchNorm2dInference({ ...s.d, eps: 1e-5, threads: t }, s.x, s.w, s.b, s.rm, s.rv, s.y),
  backward: (a, s, t) => a.batchNorm2dBackward({ ...s.d, threads: t }, s.x, s.dy, s.w, s.mean, s.inv, s.dx, s.dw, s.db),
};
const scratch = new Float32Array(16 << 20);
let sink = 0;
const ms = (f) => {
  if (o.cold) {
    scratch.fill(sink);
    sink += scratch[12345];
  }
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};

const step = {}, test = {};
for (const t of threads) {
  step[t] = { new: 0, old: 0 };
  test[t] = { new: 0, old: 0 };
}
for (const shape of shapes) {
  const s = setup(shape);
  for (const t of threads) {
    for (const [k, f] of Object.entries(calls)) {
      const run = (a) => () => f(a, s, t);
      run(addon)();
      if (base) run(base)();
      const nw = [], od = [];
      for (let r = 0; r < reps; r++) {
        nw.push(ms(run(addon)));
        if (base) od.push(ms(run(base)));
      }
      const mn = median(nw), mo = base ? median(od) : 0;
      const into = k === 'inference' ? test[t] : step[t];
      into.new += layersPerShape * mn;
      into.old += layersPerShape * mo;
      console.log(`  [${shape}] ${k.padEnd(9)} threads ${t}: ${mn.toFixed(3).padStart(8)} ms` +
        (base ? `   baseline ${mo.toFixed(3).padStart(8)} ms   new/baseline ${(mn / mo).toFixed(3)}` : ''));
    }
  }
}
for (const t of threads) {
  const r = (x) => (base ? `   baseline ${x.old.toFixed(2).padStart(7)} ms   new/baseline ${(x.new / x.old).toFixed(3)}` : '');
  console.log(`one training step (4 layers: forward + backward), threads ${t}: ${step[t].new.toFixed(2).padStart(7)} ms${r(step[t])}`);
  console.log(`one test batch (4 layers: inference),          threads ${t}: ${test[t].new.toFixed(2).padStart(7)} ms${r(test[t])}`);
}

// accuracy: the largest |got − want| / (1 + |want|) against the float64 ref kernels, per output
function errors(a, s) {
  const c = s.c, { d, len } = s;
  const x64 = Float64Array.from(s.x), dy64 = Float64Array.from(s.dy);
  const y64 = new Float64Array(len), m64 = new Float64Array(c), i64 = new Float64Array(c);
  batchNormTrainCore(x64, Float64Array.from(s.w), Float64Array.from(s.b), y64, m64, i64, d, 1e-5);
  calls.train(a, s, 1);
  const dx64 = new Float64Array(len), dw64 = new Float64Array(c), db64 = new Float64Array(c);
  // backward from the kernel's own saved statistics, so the comparison isolates the backward kernel
  batchNormBackwardCore(x64, dy64, Float64Array.from(s.w), Float64Array.from(s.mean), Float64Array.from(s.inv), dx64, dw64, db64, d);
  calls.backward(a, s, 1);
  const e64 = new Float64Array(len);
  batchNormInferenceCore(x64, Float64Array.from(s.w), Float64Array.from(s.b), Float64Array.from(s.rm), Float64Array.from(s.rv), e64, d, 1e-5);
  const worst = (got, want) => got.reduce((m, g, i) => Math.max(m, Math.abs(g - want[i]) / (1 + Math.abs(want[i]))), 0);
  const r = { y: worst(s.y, y64), mean: worst(s.mean, m64), invStd: worst(s.inv, i64), dx: worst(s.dx, dx64), dweight: worst(s.dw, dw64), dbias: worst(s.db, db64) };
  calls.inference(a, s, 1);
  r.inference = worst(s.y, e64);
  return r;
}
for (const shape of shapes) {
  const s = setup(shape);
  const fmt = (r) => Object.entries(r).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ');
  console.log(`max error vs float64 ref [${shape}]: ${fmt(errors(addon, s))}`);
  if (base) console.log(`             baseline [${shape}]: ${fmt(errors(base, setup(shape)))}`);
}
