#!/usr/bin/env node
// Times the CPU addon's three kernels on the BatchNorm layers of the small VGG-style net (conv32-bn-conv32-bn-pool-
// conv64-bn-conv64-bn-pool-fc, Fashion-MNIST 28x28, batch 128): x [128,32,28,28] and [128,64,14,14], two layers of
// each. Prints ms per call (median of --reps) at each thread count, the sum for one training step (4 forwards in
// training mode + 4 backwards) and for one test batch (4 inference forwards), and the largest error against the
// float64 `ref` kernels.
//   node bench/bn.mjs [--threads 1,2] [--reps 15] [--batch 128] [--cold] [--baseline path/to/other/convnet_batchnorm.node]
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
const median = (v) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)];
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
