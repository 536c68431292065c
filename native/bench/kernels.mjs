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
    const g = [N, c, h, h, o, k, k, s, s, p, p, groups, oh, oh];
    const K = (c / groups) * k * k, P = oh * oh;
    const x = filled(N * c * h * h, 1), w = filled(o * K, 2, 0.05), b = filled(o, 3);
    const y = new Float32Array(N * o * P), dy = filled(N * o * P, 4), dx = new Float32Array(N * c * h * h);
    const dw = new Float32Array(o * K);
    const flop = 2 * N * o * P * K;
    const tf = best(() => native.conv2dForward(g, x, w, b, y));
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
  mem(`lrn forward ${shape}`, 3 * B, () => native.lrnForward(N, C, plane, 5, 1e-4, 0.75, 2, x, y, scale));
  mem(`lrn backward ${shape}`, 5 * B, () => native.lrnBackward(N, C, plane, 5, 1e-4, 0.75, 2, x, y, scale, dy, dx));
  mem(`lrn forward beta 0.6 ${shape}`, 3 * B, () => native.lrnForward(N, C, plane, 5, 1e-4, 0.6, 2, x, y, scale));
  const oh = outSize(H, 3, 2, 0), pg = [N, C, H, H, 3, 3, 2, 2, 0, 0, oh, oh];
  const py = new Float32Array(N * C * oh * oh), pdy = filled(N * C * oh * oh, 10);
  mem(`maxpool 3/2 forward ${shape}`, B + py.length * 4, () => native.pool(0, pg, false, x, py));
  mem(`maxpool 3/2 backward ${shape}`, 2 * B + pdy.length * 4, () => native.pool(1, pg, false, x, pdy, dx));
  mem(`avgpool 3/2 forward ${shape}`, B + py.length * 4, () => native.pool(2, pg, true, x, py));
  mem(`avgpool 3/2 backward ${shape}`, B + pdy.length * 4, () => native.pool(3, pg, true, pdy, dx));
  mem(`relu forward ${shape}`, 2 * B, () => native.activation(0, len, x, y));
  mem(`relu backward ${shape}`, 4 * B, () => native.activationBackward(0, len, x, y, dy, dx));
  mem(`logistic forward ${shape}`, 2 * B, () => native.activation(1, len, x, y));
  mem(`dropout p=0.5 ${shape}`, 3 * B, () => native.dropout(len, 42, 1, 0, 1 << 23, 2, x, y, scale));
  mem(`mul (dropout backward) ${shape}`, 3 * B, () => native.binary(1, len, dy, m, dx));
  mem(`add ${shape}`, 3 * B, () => native.binary(0, len, x, dy, dx));
  mem(`scale ${shape}`, 2 * B, () => native.scale(len, 0.5, x, dx));
  mem(`axpy ${shape}`, 3 * B, () => native.axpy(len, 0.5, x, dx));
  const bias = filled(C, 11), db = new Float32Array(C);
  mem(`biasAdd ${shape}`, 2 * B, () => native.biasAdd(N, C, plane, x, bias, y));
  mem(`biasGrad ${shape}`, B, () => native.biasGrad(N, C, plane, dy, db));
  const out2 = new Float32Array(2);
  mem(`sumAndSquares ${shape}`, B, () => native.sumAndSquares(len, x, out2));
}
{
  // fc6's weight: the largest parameter of the net (4096 x 9216)
  const len = 4096 * 9216, w = filled(len, 12, 0.01), v = new Float32Array(len), g = filled(len, 13, 0.01);
  mem('sgd momentum (pytorch) fc6 w [4096,9216]', 5 * len * 4,
    () => native.sgdUpdate(len, 0.01, 0.9, 5e-4, 0, false, false, false, w, v, g));
  mem('sgd momentum (paper) fc6 w [4096,9216]', 5 * len * 4,
    () => native.sgdUpdate(len, 0.01, 0.9, 5e-4, 0, false, true, false, w, v, g));
}
{
  const classes = 1000, logits = filled(N * classes, 14, 5), dl = new Float32Array(N * classes), out = new Float32Array(3);
  const labels = Int32Array.from({ length: N }, (_, i) => (i * 37) % classes);
  mem(`softmaxCrossEntropy [${N},1000]`, 2 * logits.length * 4,
    () => native.softmaxCrossEntropy(N, classes, 5, logits, labels, dl, out));
}
if (rows.length) {
  console.log(`\n${'memory-bound kernel'.padEnd(44)} ${'ms'.padStart(8)} ${'GB/s'.padStart(7)}`);
  for (const [label, ms, gbs] of rows) console.log(`${label.padEnd(44)} ${ms.toFixed(2).padStart(8)} ${gbs.toFixed(1).padStart(7)}`);
}
