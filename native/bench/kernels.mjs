#!/usr/bin/env node
// Kernel benchmark straight on the addon (no @convnet/tensor): the paper AlexNet's conv layers (forward,
// input gradient, weight gradient) in GFLOP/s, and the memory-bound kernels in ms and GB/s of the bytes
// each one must move (every input read once, every output written once).
//
//   node bench/kernels.mjs                       batch 32, all kernels
//   node bench/kernels.mjs --batch 1 --runs 5    another batch size / more timed runs
//   node bench/kernels.mjs --only conv           rows whose label contains "conv"
//   node bench/kernels.mjs --threads 1           CONVNET_NUM_THREADS for this run
//
// Figures, not a test. The machine may be shared: compare the best-of-N figures, and ratios taken in the
// same run. CONVNET_NATIVE_PATH loads another build of the addon (see ../index.cjs).
import { createRequire } from 'node:module';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const N = Number(opt('--batch', 32));
const runs = Number(opt('--runs', 3));
const only = opt('--only', null);
const threads = opt('--threads', null);

const native = createRequire(import.meta.url)('../index.cjs');
if (threads) native.setNumThreads(Number(threads));

// Deterministic pseudo-random fill (values in [-1, 1)), so runs are comparable.
function filled(len, seed = 1, s = 1) {
  const a = new Float32Array(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    a[i] = ((x / 4294967296) * 2 - 1) * s;
  }
  return a;
}

// One warm-up call, then the best of `runs` timed calls (ms).
function best(fn) {
  fn();
  let b = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    b = Math.min(b, performance.now() - t);
  }
  return b;
}

const outSize = (i, k, s, p) => Math.floor((i + 2 * p - k) / s) + 1;
const show = (label) => !only || label.includes(only);
const info = native.info();
console.log(`@convnet/native kernels: ${info.threads} threads, ISA ${info.isa}; batch ${N}; best of ${runs} (after 1 warm-up)`);

// ------------------------------------------------------------------------------------------ convolution
// [label, c, h, o, k, stride, pad, groups]
const convs = [
  ['conv1 3->96 11x11/4 227', 3, 227, 96, 11, 4, 0, 1],
  ['conv2 96->256 5x5 p2 g2 27', 96, 27, 256, 5, 1, 2, 2],
  ['conv3 256->384 3x3 p1 13', 256, 13, 384, 3, 1, 1, 1],
  ['conv4 384->384 3x3 p1 g2 13', 384, 13, 384, 3, 1, 1, 2],
  ['conv5 384->256 3x3 p1 g2 13', 384, 13, 256, 3, 1, 1, 2],
].filter(([label]) => show(label));
if (convs.length) {
  console.log(`\n${'conv layer (GFLOP/s; ms)'.padEnd(30)} ${'forward'.padStart(15)} ${'grad input'.padStart(15)} ${'grad weight'.padStart(15)} ${'sgemm same shape'.padStart(17)}`);
  let totalMs = 0, totalFlop = 0;
  for (const [label, c, h, o, k, s, p, groups] of convs) {
    const oh = outSize(h, k, s, p);
    const g = { n: N, c, h, w: h, o, kh: k, kw: k, sh: s, sw: s, ph: p, pw: p, groups, oh, ow: oh };
    const K = (c / groups) * k * k, P = oh * oh;
    const x = filled(N * c * h * h, 1), w = filled(o * K, 2, 0.05), b = filled(o, 3);
    const y = new Float32Array(N * o * P), dy = filled(N * o * P, 4), dx = new Float32Array(N * c * h * h);
    const dw = new Float32Array(o * K);
    const flop = 2 * N * o * P * K;
    const tf = best(() => native.conv2d(g, x, w, b, y));
    const tbi = best(() => native.conv2dBackwardInput(g, dy, w, dx));
    const tbw = best(() => native.conv2dBackwardWeight(g, x, dy, dw));
    // The GEMM a per-image im2col convolution runs (one group of one image), with the whole pool: the
    // ceiling the convolution can approach.
    const og = o / groups, A = filled(og * K, 5), B = filled(K * P, 6), C = new Float32Array(og * P);
    const tg = best(() => native.sgemm(false, false, og, P, K, 1, A, K, B, P, 0, C, P));
    const gf = (ms, f = flop) => `${(f / ms / 1e6).toFixed(1).padStart(6)} (${ms.toFixed(1).padStart(6)})`;
    console.log(`${label.padEnd(30)} ${gf(tf)} ${gf(tbi)} ${gf(tbw)} ${(2 * og * P * K / tg / 1e6).toFixed(1).padStart(17)}`);
    totalMs += tf + tbi + tbw;
    totalFlop += 3 * flop;
  }
  console.log(`${'all listed layers'.padEnd(30)} ${(totalFlop / totalMs / 1e6).toFixed(1)} GFLOP/s over ${totalMs.toFixed(0)} ms (forward + both gradients)`);
}

// ------------------------------------------------------------------------------------------ memory-bound
const rows = [];
function mem(label, bytes, fn) {
  if (!show(label)) return;
  const ms = best(fn);
  rows.push([label, ms, bytes / ms / 1e6]);
}
{
  const C = 96, H = 55, plane = H * H, len = N * C * plane;
  const x = filled(len, 7, 3), y = new Float32Array(len), scale = new Float32Array(len), dy = filled(len, 8);
  const dx = new Float32Array(len), m = filled(len, 9);
  const B = len * 4;
  const shape = `[${N},${C},${H},${H}]`;
  // paper AlexNet LRN: size 5, alpha 1e-4 (paper convention), beta 0.75, k 2
  const lrnA = (beta) => ({ n: N, c: C, plane, size: 5, alpha: 1e-4, beta, k: 2, alphaMode: 'paper' });
  mem(`lrn forward ${shape}`, 3 * B, () => native.lrn(lrnA(0.75), x, y, scale));
  mem(`lrn backward ${shape}`, 5 * B, () => native.lrnBackward(lrnA(0.75), x, y, scale, dy, dx));
  mem(`lrn forward beta 0.6 ${shape}`, 3 * B, () => native.lrn(lrnA(0.6), x, y, scale));
  const oh = outSize(H, 3, 2, 0), pg = { n: N, c: C, h: H, w: H, kh: 3, kw: 3, sh: 2, sw: 2, ph: 0, pw: 0, oh, ow: oh };
  const py = new Float32Array(N * C * oh * oh), pdy = filled(N * C * oh * oh, 10);
  mem(`maxpool 3/2 forward ${shape}`, B + py.length * 4, () => native.maxPool2d(pg, x, py));
  mem(`maxpool 3/2 backward ${shape}`, 2 * B + pdy.length * 4, () => native.maxPool2dBackward(pg, x, pdy, dx));
  mem(`avgpool 3/2 forward ${shape}`, B + py.length * 4, () => native.avgPool2d({ ...pg, countIncludePad: true }, x, py));
  mem(`avgpool 3/2 backward ${shape}`, B + pdy.length * 4, () => native.avgPool2dBackward({ ...pg, countIncludePad: true }, pdy, dx));
  mem(`relu forward ${shape}`, 2 * B, () => native.activation({ fn: 'relu', len }, x, y));
  mem(`relu backward ${shape}`, 4 * B, () => native.activationBackward({ fn: 'relu', len }, x, y, dy, dx));
  mem(`logistic forward ${shape}`, 2 * B, () => native.activation({ fn: 'logistic', len }, x, y));
  mem(`dropout p=0.5 ${shape}`, 3 * B, () => native.dropout({ len, seed: 42, stream: 1, offset: 0, keepThreshold: 1 << 23, scale: 2 }, x, y, scale));
  mem(`mul (dropout backward) ${shape}`, 3 * B, () => native.mul({ len }, dy, m, dx));
  mem(`add ${shape}`, 3 * B, () => native.add({ len }, x, dy, dx));
  mem(`scale ${shape}`, 2 * B, () => native.scale({ len, alpha: 0.5 }, x, dx));
  mem(`axpy ${shape}`, 3 * B, () => native.axpy({ len, alpha: 0.5 }, x, dx));
  const bias = filled(C, 11), db = new Float32Array(C);
  mem(`biasAdd ${shape}`, 2 * B, () => native.biasAdd({ n: N, c: C, inner: plane }, x, bias, y));
  mem(`conv2dBackwardBias ${shape}`, B, () => native.conv2dBackwardBias({ n: N, c: C, inner: plane }, dy, db));
  const out2 = new Float32Array(2);
  mem(`sumAndSquares ${shape}`, B, () => native.sumAndSquares({ len }, x, out2));
}
{
  // fc6's weight: the largest parameter of the net (4096 x 9216)
  const sgd = { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, dampening: 0, nesterov: false, firstStep: false };
  const len = 4096 * 9216, w = filled(len, 12, 0.01), v = new Float32Array(len), g = filled(len, 13, 0.01);
  mem('sgd momentum (pytorch) fc6 w [4096,9216]', 5 * len * 4,
    () => native.sgdUpdate({ ...sgd, len, rule: 'pytorch' }, g, w, v));
  mem('sgd momentum (paper) fc6 w [4096,9216]', 5 * len * 4,
    () => native.sgdUpdate({ ...sgd, len, rule: 'paper' }, g, w, v));
}
{
  const classes = 1000, logits = filled(N * classes, 14, 5), dl = new Float32Array(N * classes), loss = new Float32Array(1), hits = new Float32Array(2);
  const labels = Int32Array.from({ length: N }, (_, i) => (i * 37) % classes);
  mem(`softmaxCrossEntropy [${N},1000]`, 2 * logits.length * 4,
    () => native.softmaxCrossEntropy({ n: N, classes, topk: 5 }, logits, labels, loss, dl, hits));
}
if (rows.length) {
  console.log(`\n${'memory-bound kernel'.padEnd(44)} ${'ms'.padStart(8)} ${'GB/s'.padStart(7)}`);
  for (const [label, ms, gbs] of rows) console.log(`${label.padEnd(44)} ${ms.toFixed(2).padStart(8)} ${gbs.toFixed(1).padStart(7)}`);
}
