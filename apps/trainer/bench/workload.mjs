#!/usr/bin/env node
// One of our AlexNet workloads in a process of its own (so its peak RSS is its own), for `pnpm bench`:
// prints one JSON line {workload, imagesPerSec (median step), bestImagesPerSec, cpuImagesPerSec, peakRssMb, steps}.
//   node apps/trainer/bench/workload.mjs train|infer/paper|torchvision/BATCH [--steps N] [--bf16]
// A train step = forward + cross-entropy + backward + SGD (momentum 0.9, weight decay 5e-4), as PyTorch's.
import { Rng, Tensor, native } from '@convnet/tensor';
import { CrossEntropyLoss } from '@convnet/layers';
import { SGD } from '@convnet/optim';
import { createModel } from '@convnet/alexnet';

const args = process.argv.slice(2);
const workload = args[0] ?? '';
const [kind, model, b] = workload.split('/');
const batch = Number(b);
if (!['train', 'infer'].includes(kind) || !['paper', 'torchvision'].includes(model) || !(Number.isInteger(batch) && batch > 0))
  throw new Error(`workload.mjs: workload must be train|infer/paper|torchvision/BATCH, got '${workload}'`);
const stepsArg = args.includes('--steps') ? Number(args[args.indexOf('--steps') + 1]) : 3;
if (!(Number.isInteger(stepsArg) && stepsArg > 0)) throw new Error(`workload.mjs: --steps must be a positive integer, got ${stepsArg}`);
if (args.includes('--bf16')) native().setMatmulPrecision('bf16');

const size = model === 'paper' ? 227 : 224;
const net = createModel(model, { seed: 1 });
const x = new Tensor(new Rng(1).normal(batch * 3 * size * size), [batch, 3, size, size]);
const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7) % 1000);
let step;
if (kind === 'infer') {
  net.eval();
  step = () => net.forward(x);
} else {
  const ce = new CrossEntropyLoss();
  const opt = new SGD(net.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  step = () => { ce.forward(net.forward(x), labels); net.backward(ce.backward()); opt.step(); };
}
// Batch 1 steps are short: time more of them (as the PyTorch script does).
const steps = batch === 1 ? stepsArg * 4 : stepsArg;
step(); // warm-up: allocates every buffer
const wall = [], cpu = [];
for (let i = 0; i < steps; i++) {
  const c0 = process.cpuUsage(), t0 = performance.now();
  step();
  const t = performance.now() - t0, c = process.cpuUsage(c0);
  wall.push(t / 1000);
  cpu.push((c.user + c.system) / 1e6);
}
const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const threads = native().info().threads;
console.log(JSON.stringify({
  workload, steps, threads,
  imagesPerSec: batch / median(wall),
  bestImagesPerSec: batch / Math.min(...wall),
  // images/s had our threads had the cores to themselves (CPU time / threads): shows what other load took
  cpuImagesPerSec: (batch * threads) / median(cpu),
  peakRssMb: process.resourceUsage().maxRSS / 1024,
}));
