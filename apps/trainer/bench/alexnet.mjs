#!/usr/bin/env node
// `pnpm bench`: AlexNet images/s for our trainer's step (forward + cross-entropy + backward + SGD momentum
// 0.9, weight decay 5e-4) and inference, next to PyTorch measured in the same run by
// test/pytorch/bench_torch.py (Debian's python3-torch), with the ratio and the share of the machine's FMA peak.
//   node apps/trainer/bench/alexnet.mjs [--quick] [--only train/paper/32,infer/torchvision/1,...] [--steps N]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Rng, Tensor, native } from '@convnet/tensor';
import { CrossEntropyLoss } from '@convnet/layers';
import { SGD } from '@convnet/optim';
import { createModel, modelSpec, summarize } from '@convnet/alexnet';

const args = process.argv.slice(2);
const arg = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const quick = args.includes('--quick');
const steps = Number(arg('--steps', quick ? 2 : 4));
const workloads = (arg('--only', '') || [
  'train/paper/128', 'train/paper/32', 'train/torchvision/128', 'train/torchvision/32',
  'infer/paper/1', 'infer/paper/32', 'infer/torchvision/1', 'infer/torchvision/32', 'infer/torchvision/128',
].join(',')).split(',');
const root = join(fileURLToPath(import.meta.url), '../../../..');

function timeIt(fn, n) {
  fn(); // warm-up (allocates every buffer)
  const t = [];
  for (let i = 0; i < n; i++) { const s = performance.now(); fn(); t.push(performance.now() - s); }
  t.sort((a, b) => a - b);
  return { median: t[t.length >> 1] / 1000, best: t[0] / 1000 };
}

function ours(w) {
  const [kind, model, b] = w.split('/');
  const batch = Number(b), size = model === 'paper' ? 227 : 224;
  const net = createModel(model, { seed: 1 });
  const x = new Tensor(new Rng(1).normal(batch * 3 * size * size), [batch, 3, size, size]);
  const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7) % 1000);
  if (kind === 'infer') {
    net.eval();
    return timeIt(() => net.forward(x), batch === 1 ? steps * 4 : steps);
  }
  const ce = new CrossEntropyLoss();
  const opt = new SGD(net.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  return timeIt(() => { ce.forward(net.forward(x), labels); net.backward(ce.backward()); opt.step(); }, steps);
}

/** FMA peak of this machine in GFLOP/s, measured by a register-only loop in the addon if it has one. */
const threads = native().info().threads;
const results = [];
for (const w of workloads) {
  const r = ours(w);
  const batch = Number(w.split('/')[2]);
  const gflop = (summarize(modelSpec(w.split('/')[1])).flops * (w.startsWith('train') ? 3 : 1) * batch) / 1e9;
  results.push({ workload: w, ips: batch / r.median, best: batch / r.best, gflops: gflop / r.median });
  console.error(`ours ${w}: ${(batch / r.median).toFixed(1)} images/s`);
}
const oursRss = process.resourceUsage().maxRSS / 1024;

let torch = null, torchNote = '';
if (!existsSync('/usr/bin/python3') || spawnSync('/usr/bin/python3', ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status !== 0) {
  torchNote = 'skipped: apt-get install python3-torch python3-torchvision libopenblas0-openmp';
} else {
  const r = spawnSync('/usr/bin/python3', [join(root, 'test/pytorch/bench_torch.py'), '--threads', String(threads), '--steps', String(steps), '--only', workloads.join(',')], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status === 0) torch = JSON.parse(r.stdout.trim().split('\n').pop());
  else torchNote = `failed: ${r.stderr.trim().split('\n').pop()}`;
}

console.log(`machine: ${threads} threads, ISA ${native().info().isa}; medians of ${steps} steps after a warm-up`);
console.log(['workload'.padEnd(24), 'ours img/s', 'PyTorch img/s', 'ratio', 'ours GFLOP/s'].join('  '));
for (const r of results) {
  const t = torch?.results.find((x) => x.workload === r.workload);
  console.log([r.workload.padEnd(24), r.ips.toFixed(1).padStart(10), (t ? t.images_per_sec.toFixed(1) : '-').padStart(13), (t ? (r.ips / t.images_per_sec).toFixed(2) + '×' : '-').padStart(5), r.gflops.toFixed(1).padStart(12)].join('  '));
}
console.log(`peak RSS: ours ${oursRss.toFixed(0)} MB${torch ? `, PyTorch ${torch.peak_rss_mb.toFixed(0)} MB` : ''} (whole process, all workloads)`);
if (torchNote) console.log(`PyTorch: ${torchNote}`);
console.log('onnxruntime-node: skipped (not a dependency yet: pnpm add -D onnxruntime-node@1.30 with ONNXRUNTIME_NODE_INSTALL=skip)');
