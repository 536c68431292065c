#!/usr/bin/env node
// Per-layer kernel figures for the paper AlexNet at batch 32 on the `cpu` backend: each conv layer's
// forward, input-gradient and weight-gradient GFLOP/s, and LRN / max-pool / ReLU times.
//   node packages/tensor/bench/kernels.mjs [--batch 32] [--runs 3]
import {
  Rng, Tensor, activation, activationBackward, conv2d, conv2dBackwardInput, conv2dBackwardWeight, conv2dInfo, lrn, lrnBackward,
  maxPool2d, maxPool2dBackward, native,
} from '@convnet/tensor';

const args = process.argv.slice(2);
const arg = (k, d) => (args.includes(k) ? Number(args[args.indexOf(k) + 1]) : d);
const N = arg('--batch', 32), runs = arg('--runs', 3);
const rng = new Rng(1);
const randn = (shape, s = 1) => new Tensor(rng.normal(shape.reduce((a, b) => a * b, 1), 0, s), shape);
const best = (fn) => { fn(); let b = Infinity; for (let i = 0; i < runs; i++) { const t = performance.now(); fn(); b = Math.min(b, performance.now() - t); } return b; };

const layers = [
  ['conv1 3→96 11×11/4', [N, 3, 227, 227], [96, 3, 11, 11], { stride: 4 }],
  ['conv2 96→256 5×5 g2', [N, 96, 27, 27], [256, 48, 5, 5], { padding: 2, groups: 2 }],
  ['conv3 256→384 3×3', [N, 256, 13, 13], [384, 256, 3, 3], { padding: 1 }],
  ['conv4 384→384 3×3 g2', [N, 384, 13, 13], [384, 192, 3, 3], { padding: 1, groups: 2 }],
  ['conv5 384→256 3×3 g2', [N, 384, 13, 13], [256, 192, 3, 3], { padding: 1, groups: 2 }],
];
const info = native().info();
console.log(`cpu backend, ${info.threads} threads, ISA ${info.isa}; batch ${N}; best of ${runs}`);
console.log(['layer'.padEnd(22), 'forward', 'grad input', 'grad weight', '(GFLOP/s)'].join('  '));
for (const [name, xs, ws, o] of layers) {
  const x = randn(xs), w = randn(ws, 0.01), b = randn([ws[0]]);
  const g = conv2dInfo('bench', xs, ws, o);
  const flop = 2 * g.n * g.o * g.oh * g.ow * (ws[1] * ws[2] * ws[3]);
  const y = conv2d(x, w, b, o), dy = randn(y.shape), dx = Tensor.zeros(xs), dw = Tensor.zeros(ws);
  const f = best(() => conv2d(x, w, b, { ...o, out: y }));
  const bi = best(() => conv2dBackwardInput(dy, w, xs, { ...o, out: dx }));
  const bw = best(() => conv2dBackwardWeight(x, dy, ws, { ...o, out: dw }));
  const gf = (ms) => (flop / ms / 1e6).toFixed(1).padStart(7);
  console.log([name.padEnd(22), gf(f), gf(bi).padStart(10), gf(bw).padStart(11)].join('  '));
}
const a = randn([N, 96, 55, 55]);
const l = lrn(a, { size: 5, alpha: 1e-4, beta: 0.75, k: 2, alphaMode: 'paper' });
const dyl = randn(a.shape), dxl = Tensor.zeros(a.shape);
const lf = best(() => lrn(a, { alphaMode: 'paper', out: l.y, outScale: l.scale }));
const lb = best(() => lrnBackward(a, l.y, l.scale, dyl, { alphaMode: 'paper', out: dxl }));
const p = maxPool2d(a, { kernel: 3, stride: 2 }), dyp = randn(p.shape);
const pf = best(() => maxPool2d(a, { kernel: 3, stride: 2, out: p }));
const pb = best(() => maxPool2dBackward(a, dyp, { kernel: 3, stride: 2, out: dxl }));
const r = Tensor.zeros(a.shape);
const rf = best(() => activation(a, 'relu', { out: r }));
const rb = best(() => activationBackward(a, r, dyl, 'relu', { out: dxl }));
const mb = (a.size * 4) / 1e6;
console.log(`\nmemory-bound kernels on [${a.shape.join(', ')}] (${mb.toFixed(0)} MB):`);
console.log(`  LRN forward ${lf.toFixed(1)} ms, backward ${lb.toFixed(1)} ms`);
console.log(`  max-pool 3/2 forward ${pf.toFixed(1)} ms, backward ${pb.toFixed(1)} ms`);
console.log(`  ReLU forward ${rf.toFixed(1)} ms, backward ${rb.toFixed(1)} ms`);
