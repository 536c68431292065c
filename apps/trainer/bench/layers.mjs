#!/usr/bin/env node
// Per-layer time of one AlexNet workload (ours): wraps each leaf module's forward/backward with a timer and
// prints the layers by time spent, wall-clock ms and process CPU ms (CPU time is the steadier figure on a
// shared machine: time-slicing by other processes does not count).
//   node apps/trainer/bench/layers.mjs train|infer paper|torchvision BATCH [STEPS]
import { Rng, Tensor, native } from '@convnet/tensor';
import { CrossEntropyLoss, Sequential } from '@convnet/layers';
import { SGD } from '@convnet/optim';
import { createModel } from '@convnet/alexnet';
const [kind, model, b, n] = process.argv.slice(2);
const batch = Number(b), size = model === 'paper' ? 227 : 224;
const net = createModel(model, { seed: 1 });
const x = new Tensor(new Rng(1).normal(batch * 3 * size * size), [batch, 3, size, size]);
const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7) % 1000);
const ce = new CrossEntropyLoss();
const opt = new SGD(net.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
if (kind === 'infer') net.eval();
const times = new Map();
function wrap(name, m) {
  if (m instanceof Sequential) { for (const [n, c] of m.namedChildren()) wrap(name ? name + '.' + n : n, c); return; }
  for (const f of ['forward', 'backward']) {
    const orig = m[f].bind(m);
    m[f] = (t) => {
      const s = performance.now(), c = process.cpuUsage();
      const r = orig(t);
      const k = `${name} ${m.constructor.name} ${f}`, d = process.cpuUsage(c), v = times.get(k) ?? [0, 0];
      times.set(k, [v[0] + performance.now() - s, v[1] + (d.user + d.system) / 1000]);
      return r;
    };
  }
}
for (const [n, c] of net.namedChildren()) wrap(n, c);
let optT = 0; // wall ms
const step = kind === 'infer' ? () => net.forward(x) : () => { ce.forward(net.forward(x), labels); net.backward(ce.backward()); const s = performance.now(); opt.step(); optT += performance.now() - s; };
step(); times.clear(); optT = 0;
const N = Number(n ?? 2); const s0 = performance.now(), c0 = process.cpuUsage();
for (let i = 0; i < N; i++) step();
const tot = performance.now() - s0, cd = process.cpuUsage(c0), ctot = (cd.user + cd.system) / 1000;
console.log(`${kind}/${model}/${batch}: ${(batch * N / tot * 1000).toFixed(1)} img/s wall, ${(batch * N / ctot * 1000 * native().info().threads).toFixed(1)} img/s by CPU time (${native().info().threads} threads, ISA ${native().info().isa})`);
console.log('layer'.padEnd(40), 'wall ms'.padStart(8), 'CPU ms'.padStart(8), 'CPU %'.padStart(6));
for (const [k, v] of [...times].sort((a, b) => b[1][1] - a[1][1]))
  console.log(k.padEnd(40), (v[0] / N).toFixed(1).padStart(8), (v[1] / N).toFixed(1).padStart(8), (100 * v[1] / ctot).toFixed(1).padStart(6));
console.log('opt'.padEnd(40), (optT / N).toFixed(1).padStart(8), 'ms');
