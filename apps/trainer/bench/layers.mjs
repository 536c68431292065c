#!/usr/bin/env node
// Per-layer truth: for each conv and FC layer of one AlexNet workload, our forward / backward-data / backward-weights
// milliseconds and GFLOP/s next to the oneDNN peer's (onednn.cpp, same workload, measured in the same run, the two
// processes interleaved round by round), and which algorithm our kernel chose for that shape (printed by the
// kernels themselves: CONVNET_CONV_TRACE=1 makes native/src/cpu/conv*.cpp name their choice once per shape).
//
//   node apps/trainer/bench/layers.mjs [train|infer] [paper|torchvision] [BATCH] [--steps N] [--rounds R] [--no-onednn]
//                                      [--modules]
//
// Defaults: train torchvision 128, 3 steps, 1 round. Figures are medians over rounds of the mean over the timed
// steps (after one warm-up step), wall-clock ms. "ours/oneDNN" is oneDNN's time over ours: above 1 we are faster.
// oneDNN's time for a layer includes its fused ReLU (forward) and the reorders it needs, shown apart; ours excludes
// the separate ReLU, which --modules lists with every other module.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildOnednn, runOnednn, ONEDNN_INSTALL } from './onednn.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (k) => args.includes(k);
const opt = (k, d) => (flag(k) ? Number(args[args.indexOf(k) + 1]) : d);
const pos = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && ['--steps', '--rounds'].includes(args[i - 1])));
const [kind = 'train', model = 'torchvision', b = '128'] = pos;
const batch = Number(b), steps = opt('--steps', 3), rounds = opt('--rounds', 1);
if (!['train', 'infer'].includes(kind) || !['paper', 'torchvision'].includes(model) || !(Number.isInteger(batch) && batch > 0))
  throw new Error(`layers.mjs: expected [train|infer] [paper|torchvision] [BATCH], got '${pos.join(' ')}'`);
for (const [k, v] of [['--steps', steps], ['--rounds', rounds]])
  if (!(Number.isInteger(v) && v > 0)) throw new Error(`layers.mjs: ${k} must be a positive integer, got '${args[args.indexOf(k) + 1]}'`);
const workload = `${kind}/${model}/${batch}`;

if (flag('--child')) await child();
else main();

// ----- parent: interleave ours and oneDNN, print the table -----
function main() {
  const built = flag('--no-onednn') ? { note: 'not run (--no-onednn)' } : buildOnednn();
  const ours = [], dnn = [];
  for (let r = 0; r < rounds; r++) {
    const o = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...args, '--child'], {
      encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, CONVNET_CONV_TRACE: '1' },
    });
    const last = (o.stdout ?? '').trim().split('\n').pop() ?? '';
    if (o.status !== 0 || !last.startsWith('{')) throw new Error(`layers.mjs: our run failed: ${(o.stderr ?? '').trim().split('\n').pop()}`);
    const res = JSON.parse(last);
    res.trace = (o.stderr ?? '').split('\n').filter((l) => l.startsWith('convnet conv:'));
    ours.push(res);
    process.stderr.write(`round ${r + 1}: ours ${res.imagesPerSec.toFixed(1)} images/s`);
    if (built.binary) {
      const d = runOnednn(built.binary, workload, { steps, threads: res.threads });
      if (d.error) throw new Error(`layers.mjs: oneDNN run failed: ${d.error}`);
      dnn.push(d);
      process.stderr.write(`, oneDNN ${d.imagesPerSec.toFixed(1)} images/s`);
    }
    process.stderr.write('\n');
  }
  const med = (a) => { const s = a.filter((x) => x != null).sort((p, q) => p - q); return s.length ? s[s.length >> 1] : null; };
  const o0 = ours[0];
  console.log(`${workload}: ours ${med(ours.map((r) => r.imagesPerSec)).toFixed(1)} images/s` +
    `${dnn.length ? `, oneDNN ${dnn[0].version} ${med(dnn.map((r) => r.imagesPerSec)).toFixed(1)} images/s` : ''}` +
    ` (${o0.threads} threads, ISA ${o0.isa}; median of ${rounds} round(s) of ${steps} step(s); wall ms per step)`);
  if (built.note) console.log(`oneDNN: ${built.note}`);
  const head = ['layer', 'direction', 'ours ms', 'GFLOP/s', 'oneDNN ms', 'GFLOP/s', 'ours/oneDNN', 'ours: algorithm', 'oneDNN: impl'];
  const w = [7, 12, 8, 8, 10, 8, 12, 30, 14];
  const line = (c) => c.map((x, i) => (i < 2 || i >= 7 ? String(x).padEnd(w[i]) : String(x).padStart(w[i]))).join(' ');
  console.log(line(head));
  const dirs = kind === 'train' ? [['fwd', 'forward', 'fwdMs', 'implFwd'], ['bwdData', 'bwd-data', 'bwdDataMs', 'implBwdData'], ['bwdWeights', 'bwd-weights', 'bwdWeightsMs', 'implBwdWeights']] : [['fwd', 'forward', 'fwdMs', 'implFwd']];
  let sumO = 0, sumD = 0, gap = [];
  for (const L of o0.layers) {
    for (const [key, label, dkey, ikey] of dirs) {
      const ms = med(ours.map((r) => r.layers.find((x) => x.name === L.name)?.[key]));
      if (!ms) continue; // conv1's input gradient is not computed
      const dl = dnn.map((r) => r.layers.find((x) => x.name === L.name));
      const dms = med(dl.map((x) => (x ? x[dkey] : null)));
      const gf = (m) => (m ? ((L.gflop / m) * 1000).toFixed(1) : '-');
      sumO += ms;
      if (dms) { sumD += dms; gap.push({ name: `${L.name} ${label}`, lost: ms - dms }); }
      console.log(line([L.name, label, ms.toFixed(1), gf(ms), dms ? dms.toFixed(1) : '-', gf(dms), dms ? `${(dms / ms).toFixed(2)}×` : '-',
        algo(L, label), dl[0]?.[ikey] ?? '-']));
    }
    const reorder = med(dnn.map((r) => r.layers.find((x) => x.name === L.name)?.reorderMs));
    if (reorder > 0.05) { console.log(line([L.name, 'reorders', '-', '', reorder.toFixed(1), '', '', '', '(oneDNN only)'])); sumD += reorder; }
  }
  console.log(line(['total', 'conv + fc', sumO.toFixed(1), '', dnn.length ? sumD.toFixed(1) : '-', '', dnn.length ? `${(sumD / sumO).toFixed(2)}×` : '-', '', '']));
  if (gap.length) {
    gap.sort((p, q) => q.lost - p.lost);
    console.log(`where we lose most to oneDNN (ms per step): ${gap.filter((g) => g.lost > 0).slice(0, 5).map((g) => `${g.name} ${g.lost.toFixed(1)}`).join(', ') || 'nowhere'}`);
  }
  function algo(L, label) {
    if (L.name.startsWith('fc')) return 'sgemm';
    const t = ours[0].trace.find((l) => l.includes(` ${label} `) && l.includes(L.key));
    return t ? t.split(' -> ').pop() : '?';
  }
  const rules = [...new Set(ours.flatMap((r) => r.trace))];
  if (rules.length) console.log(['algorithm rule (native/src/cpu, per shape):', ...rules.map((r) => `  ${r.replace('convnet conv: ', '')}`)].join('\n'));
  if (flag('--modules')) {
    console.log('every module (ours, wall / CPU ms per step):');
    for (const [k, v] of o0.modules) console.log(`  ${k.padEnd(40)} ${v[0].toFixed(1).padStart(8)} ${v[1].toFixed(1).padStart(8)}`);
    console.log(`  ${'optimizer step'.padEnd(40)} ${o0.optMs.toFixed(1).padStart(8)}`);
  }
}

// ----- child: our workload with every conv / gemm kernel call timed and charged to the layer that made it -----
async function child() {
  const { Rng, Tensor, native, getKernel, registerKernel } = await import('@convnet/tensor');
  const { CrossEntropyLoss, Sequential } = await import('@convnet/layers');
  const { SGD } = await import('@convnet/optim');
  const { createModel } = await import('@convnet/alexnet');
  const size = model === 'paper' ? 227 : 224;
  const net = createModel(model, { seed: 1 });
  const x = new Tensor(new Rng(1).normal(batch * 3 * size * size), [batch, 3, size, size]);
  const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7) % 1000);
  const ce = new CrossEntropyLoss();
  const opt = new SGD(net.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  if (kind === 'infer') net.eval();
  let timing = false;
  let current = null; // the conv / linear layer whose forward or backward is running
  const layers = []; // {name, module, gflop, fwd, bwdData, bwdWeights, algo}
  const modules = new Map();
  const addMs = (L, key, ms) => { if (timing) L[key] = (L[key] ?? 0) + ms; };
  // conv kernels: forward / input gradient / weight gradient; gemm in a Linear: forward (no transA), backward
  // weights (transA: dyᵀ·x) and backward data (dy·W)
  const wrapKernel = (name, key) => {
    const impl = getKernel(name, 'cpu');
    registerKernel(name, 'cpu', (ins, attrs, outs) => {
      const t = performance.now();
      const r = impl(ins, attrs, outs);
      if (current) {
        addMs(current, typeof key === 'function' ? key(attrs) : key, performance.now() - t);
        if (name === 'conv2d') { const g = attrs; current.key = `c=${g.c} h=${g.h} w=${g.w} o=${g.o} k=${g.kh}x${g.kw} s=${g.sh}x${g.sw} p=${g.ph}x${g.pw} g=${g.groups} n=${g.n}`; }
      }
      return r;
    });
  };
  wrapKernel('conv2d', 'fwd');
  wrapKernel('conv2dBackwardInput', 'bwdData');
  wrapKernel('conv2dBackwardWeight', 'bwdWeights');
  wrapKernel('gemm', (a) => (a.transA ? 'bwdWeights' : current?.phase === 'forward' ? 'fwd' : 'bwdData'));
  let nConv = 0, nFc = 0;
  const wrap = (name, m) => {
    if (m instanceof Sequential) { for (const [n, c] of m.namedChildren()) wrap(name ? `${name}.${n}` : n, c); return; }
    const type = m.constructor.name;
    let L = null;
    if (type === 'Conv2d' || type === 'Linear') {
      L = { name: type === 'Conv2d' ? `conv${++nConv}` : `fc${5 + ++nFc}`, module: name };
      layers.push(L);
    }
    for (const f of ['forward', 'backward']) {
      const orig = m[f].bind(m);
      m[f] = (t) => {
        if (L) {
          if (f === 'forward') {
            const n = t.shape[0];
            if (type === 'Conv2d') {
              const [o, cg, kh, kw] = m.weight.value.shape, [, , oh, ow] = m.outputShape(t.shape);
              L.gflop = (2 * n * o * oh * ow * cg * kh * kw) / 1e9;
            } else L.gflop = (2 * n * m.inFeatures * m.outFeatures) / 1e9;
          }
          current = L;
          L.phase = f;
        }
        const s = performance.now(), c = process.cpuUsage();
        const r = orig(t);
        const d = process.cpuUsage(c), k = `${name} ${type} ${f}`, v = modules.get(k) ?? [0, 0];
        if (timing) modules.set(k, [v[0] + performance.now() - s, v[1] + (d.user + d.system) / 1000]);
        current = null;
        return r;
      };
    }
  };
  for (const [n, c] of net.namedChildren()) wrap(n, c);
  let optMs = 0;
  const step = kind === 'infer' ? () => net.forward(x) : () => {
    ce.forward(net.forward(x), labels);
    net.backward(ce.backward());
    const s = performance.now();
    opt.step();
    if (timing) optMs += performance.now() - s;
  };
  step();
  timing = true;
  const walls = [];
  for (let i = 0; i < steps; i++) { const s = performance.now(); step(); walls.push(performance.now() - s); }
  walls.sort((p, q) => p - q);
  const info = native().info();
  const per = (v) => (v == null ? null : v / steps);
  console.log(JSON.stringify({
    workload, threads: info.threads, isa: info.isa, imagesPerSec: (batch * 1000) / walls[walls.length >> 1],
    layers: layers.map((L) => ({ name: L.name, module: L.module, key: L.key, gflop: L.gflop, fwd: per(L.fwd), bwdData: per(L.bwdData), bwdWeights: per(L.bwdWeights) })),
    modules: [...modules].map(([k, v]) => [k, [v[0] / steps, v[1] / steps]]).sort((p, q) => q[1][1] - p[1][1]),
    optMs: optMs / steps,
  }));
}
