// The device check's Node half (device-check.sh runs it, and runs it again under compute-sanitizer): one part
// per invocation, one JSON object on stdout. It imports the built packages (@convnet/tensor, @convnet/cuda),
// so it runs from the bundle (scripts/bundle.sh) on a machine with no npm, or from a clone after `pnpm build`.
//
//   node device-check.mjs <part> [--device cuda|cuda-host] [--small]
//   parts: info | conformance | gradcheck | large | sgemm
// --small shrinks the sizes (for the emulator, where everything runs on one CPU thread).
import {
  Rng, Tensor, conv2d, conv2dBackwardInput, conv2dBackwardWeight, getBackend, listBackends, lrn, lrnBackward, matmul,
  maxPool2d, maxPool2dBackward, registerBackend, scale, softmax, softmaxCrossEntropy,
} from '@convnet/tensor';
import { builtinConformanceCases } from '@convnet/tensor/testing';
import { CudaTensor, available, buildInfo, createCudaBackend } from '@convnet/cuda';

const args = process.argv.slice(2);
const part = args[0] ?? 'info';
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const device = opt('--device', 'cuda');
const small = args.includes('--small');
if (!['cuda', 'cuda-host'].includes(device)) fail(`--device: expected cuda or cuda-host, got '${device}'`);

function fail(msg) {
  process.stdout.write(JSON.stringify({ part, ok: false, error: msg }) + '\n');
  process.exit(1);
}

let backend;
try {
  if (!listBackends().includes(device)) registerBackend(createCudaBackend(device === 'cuda-host' ? { emulator: true, name: 'cuda-host' } : {}));
  backend = getBackend(device);
} catch (e) {
  fail(`${device}: ${e.message.split('\n')[0]}`);
}
const dev = backend.device;
const rng = new Rng(123);
const randn = (shape, s = 1) => new Tensor(rng.normal(shape.reduce((a, b) => a * b, 1), 0, s), shape);
const up = (t) => CudaTensor.fromHost(t, dev);
const dot = (a, b) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * b[i]; return s; };
const timeIt = (fn, reps) => {
  fn(); dev.synchronize();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  dev.synchronize();
  return (performance.now() - t0) / 1000 / reps;
};

const parts = {
  info() {
    const a = available();
    return { ok: true, device, name: dev.name, build: buildInfo(), available: a.ok ? a.devices : a.reason, memory: dev.memoryInfo() };
  },

  // the shared conformance suite (@convnet/tensor/testing) against ref, every case
  conformance() {
    const failed = [];
    let passed = 0;
    for (const c of builtinConformanceCases()) {
      try {
        c.run(device);
        passed++;
      } catch (e) {
        failed.push(`${c.name}: ${String(e.message).split('\n')[0].slice(0, 300)}`);
      }
    }
    dev.synchronize();
    return { ok: failed.length === 0, passed, failed };
  },

  // directional finite differences of the device's backward kernels, in float32: for L(x) = Σ r ⊙ f(x) and a
  // random direction v, (L(x + εv) − L(x − εv)) / 2ε against ⟨backward(r), v⟩
  gradcheck() {
    const checks = [];
    const check = (name, x, f, back, eps = 1e-2) => {
      const r = randn(f(x).shape), v = randn(x.shape);
      const L = (t) => dot(f(t).toHost().data, r.data);
      const xp = new Tensor(x.data.map((a, i) => a + eps * v.data[i]), x.shape);
      const xm = new Tensor(x.data.map((a, i) => a - eps * v.data[i]), x.shape);
      const numeric = (L(xp) - L(xm)) / (2 * eps);
      const analytic = dot(back(r).toHost().data, v.data);
      const err = Math.abs(numeric - analytic) / Math.max(1, Math.abs(analytic));
      checks.push({ name, numeric, analytic, err, ok: err < 2e-2 });
    };
    const o = { backend: device };
    const w = randn([6, 2, 3, 3], 0.3), xs = [2, 4, 9, 9];  // groups 2: 4 input channels, 2 per group
    const g = { stride: 2, padding: 1, groups: 2 };
    check('conv2d dx', randn(xs), (x) => conv2d(up(x), up(w), null, { ...g, ...o }), (r) => conv2dBackwardInput(up(r), up(w), xs, { ...g, ...o }));
    const x0 = randn(xs);
    check('conv2d dw', w, (ww) => conv2d(up(x0), up(ww), null, { ...g, ...o }), (r) => conv2dBackwardWeight(up(x0), up(r), w.shape, { ...g, ...o }));
    // distinct values 0.05 apart, so a step of ε·v (|v| ≲ 4) never changes which element wins a window
    const px = new Tensor(Float32Array.from(rng.permutation(2 * 3 * 13 * 13), (k) => 0.05 * k), [2, 3, 13, 13]);
    check('maxPool2d', px, (x) => maxPool2d(up(x), { kernel: 3, stride: 2, ...o }), (r) => maxPool2dBackward(up(px), up(r), { kernel: 3, stride: 2, ...o }), 2e-3);
    const lp = { size: 5, alpha: 1e-2, beta: 0.75, k: 2, alphaMode: 'paper' };
    const lx = randn([2, 7, 4, 4]);
    check('lrn', lx, (x) => lrn(up(x), { ...lp, ...o }).y, (r) => {
      const f = lrn(up(lx), { ...lp, ...o });
      return lrnBackward(up(lx), f.y, f.scale, up(r), { ...lp, ...o });
    });
    const a = randn([5, 33]), b = randn([17, 33]);
    check('gemm', a, (x) => matmul(up(x), up(b), { transB: true, ...o }), (r) => matmul(up(r), up(b), o));
    const logits = randn([6, 10]), labels = Int32Array.from([0, 3, 9, 2, 2, 7]);
    {
      const v = randn(logits.shape), eps = 1e-2;
      const L = (t) => softmaxCrossEntropy(up(t), labels, o).loss;
      const numeric = (L(new Tensor(logits.data.map((q, i) => q + eps * v.data[i]), logits.shape)) - L(new Tensor(logits.data.map((q, i) => q - eps * v.data[i]), logits.shape))) / (2 * eps);
      const analytic = dot(softmaxCrossEntropy(up(logits), labels, o).dlogits.toHost().data, v.data);
      const err = Math.abs(numeric - analytic) / Math.max(1, Math.abs(analytic));
      checks.push({ name: 'softmaxCrossEntropy', numeric, analytic, err, ok: err < 2e-2 });
    }
    return { ok: checks.every((c) => c.ok), checks };
  },

  // index arithmetic past 2^31 elements and grid limits: an element-wise op over 2^31 + 5 floats (8 GiB) and a
  // softmax over more rows than one launch dimension allows
  large() {
    // raw blocks and the addon's kernels: a CudaTensor's host mirror of 2^31 floats would pass V8's array limit
    const a = dev.addon, st = dev.stream, res = {};
    const n = small ? (1 << 20) + 5 : 2 ** 31 + 5;
    const blk = dev.allocator.alloc(n * 4);
    try {
      a.memsetZero(blk.ptr, n * 4, st);
      const tail = Float32Array.from([1, 2, 3, 4, 5, 6, 7]);
      dev.upload(blk.ptr + (n - 7) * 4, tail);
      a.scale(st, { len: n, alpha: 3 }, blk.ptr, blk.ptr);
      const got = new Float32Array(7);
      dev.download(got, blk.ptr + (n - 7) * 4);
      res.elementwise = { elements: n, tail: Array.from(got), ok: got.every((v, i) => v === 3 * tail[i]) };
    } finally {
      dev.allocator.release(blk);
    }
    const rows = small ? 70_001 : 70_000_001;
    const x = dev.allocator.alloc(rows * 2 * 4), y = dev.allocator.alloc(rows * 2 * 4);
    try {
      a.memsetZero(x.ptr, rows * 8, st);
      a.softmax(st, { n: rows, classes: 2 }, x.ptr, y.ptr);
      const last = new Float32Array(2);
      dev.download(last, y.ptr + (rows - 1) * 8);
      res.softmaxRows = { rows, last: Array.from(last), ok: last.every((v) => v === 0.5) };
    } finally {
      dev.allocator.release(x);
      dev.allocator.release(y);
    }
    dev.allocator.emptyCache();
    return { ok: res.elementwise.ok && res.softmaxRows.ok, ...res };
  },

  // SGEMM GFLOP/s: 4096³ and AlexNet's shapes at batch 128 (FC layers; conv layers as their im2col GEMMs)
  sgemm() {
    const shapes = small
      ? [['256³', 256, 256, 256, false]]
      : [
          ['4096³', 4096, 4096, 4096, false],
          ['fc6 128×9216·9216×4096ᵀ', 128, 4096, 9216, true],
          ['fc7 128×4096·4096×4096ᵀ', 128, 4096, 4096, true],
          ['conv2 (per group) 128×1200·1200×729', 128, 729, 1200, false],
          ['conv3 384×2304·2304×169', 384, 169, 2304, false],
        ];
    const out = [];
    for (const [name, M, N, K, transB] of shapes) {
      const A = CudaTensor.zeros([M, K], dev), B = CudaTensor.zeros(transB ? [N, K] : [K, N], dev), C = CudaTensor.zeros([M, N], dev);
      const sec = timeIt(() => matmul(A, B, { transB, out: C, backend: device }), small ? 2 : 10);
      out.push({ name, M, N, K, ms: +(sec * 1e3).toFixed(3), gflops: +((2 * M * N * K) / sec / 1e9).toFixed(1) });
      A.dispose(); B.dispose(); C.dispose();
    }
    return { ok: true, shapes: out };
  },
};

if (!parts[part]) fail(`unknown part '${part}' (parts: ${Object.keys(parts).join(', ')})`);
try {
  const r = parts[part]();
  process.stdout.write(JSON.stringify({ part, ...r }) + '\n');
  process.exit(r.ok ? 0 : 1);
} catch (e) {
  fail(String(e.message).split('\n')[0]);
}
