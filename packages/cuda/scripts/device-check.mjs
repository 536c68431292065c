// The device check's Node half (device-check.sh runs it, and runs it again under compute-sanitizer): one part
// per invocation, one JSON object on stdout. It imports the built packages (@convnet/tensor, @convnet/cuda),
// so it runs from the bundle (scripts/bundle.sh) on a machine with no npm, or from a clone after `pnpm build`.
//
//   node device-check.mjs <part> [--device cuda|cuda-host] [--small] [part options]
//   parts: info | conformance | batchnorm | gradcheck | large | sgemm
//          resident --model M --batch B --steps S     training rate from one batch resident on the device
//          export --dir DIR                           the torchvision net's weights, a batch, our logits and one
//                                                     step's gradients, for bench_torch_device.py compare
// --small shrinks the sizes (for the emulator, where everything runs on one CPU thread).
// The packages beyond @convnet/tensor and @convnet/cuda (the nets, layers, optimisers, batch norm) are those the
// trainer imports: found next to this script in the bundle, else through apps/trainer in a built checkout.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  Rng, Tensor, conv2d, conv2dBackwardInput, conv2dBackwardWeight, getBackend, listBackends, lrn, lrnBackward, matmul,
  maxPool2d, maxPool2dBackward, registerBackend, scale, softmax, softmaxCrossEntropy,
} from '@convnet/tensor';
import { builtinConformanceCases } from '@convnet/tensor/testing';
import { CudaTensor, available, buildInfo, createCudaBackend } from '@convnet/cuda';

const here = dirname(fileURLToPath(import.meta.url));
/** A package the trainer imports: from the bundle's node_modules, else resolved from apps/trainer of a checkout. */
async function trainerDep(name) {
  try {
    return await import(name);
  } catch (e) {
    if (e.code !== 'ERR_MODULE_NOT_FOUND') throw e;
    const req = createRequire(join(here, '../../../apps/trainer/package.json'));
    const pkgDir = dirname(req.resolve(`${name}/package.json`));
    const pkg = createRequire(import.meta.url)(join(pkgDir, 'package.json'));
    const entry = pkg.exports?.['.']?.import?.default ?? pkg.exports?.['.']?.default ?? pkg.module ?? pkg.main;
    return import(pathToFileURL(join(pkgDir, entry)).href);
  }
}

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
  // the device, its properties and its fp32 peak (SMs × clock × FP32 lanes per SM × 2; availability.ts argues the
  // lanes per compute capability), which the SGEMM share of peak is measured against
  info() {
    const a = available();
    const d = a.ok ? a.devices[dev.index] : null;
    return {
      ok: true, device, name: dev.name, build: buildInfo(), available: a.ok ? a.devices : a.reason, memory: dev.memoryInfo(),
      fp32PeakGflops: device === 'cuda' ? d?.fp32PeakGflops ?? null : null,
    };
  },

  // batch norm (@convnet/kernels-batchnorm's CUDA kernels) against ref: train/eval/backward, the conformance cases'
  // shapes plus the default net's (small-bn) at batch 128; and, on a GPU, the kernels' time at small-bn's shapes
  async batchnorm() {
    const bn = await trainerDep('@convnet/kernels-batchnorm');
    const reg = bn.registerBatchNorm();
    if (!reg.native.includes(device)) return { ok: false, error: `batch norm has no ${device} kernels: ${reg.fallback[device] ?? 'not registered'}` };
    const { expectClose } = await import('@convnet/tensor/testing');
    const shapes = [[4, 3, 5, 7], [1, 6, 4, 4], [9, 5, 1, 1], [2, 64, 13, 13], [3, 2, 20, 20]];
    if (!small) shapes.push([128, 32, 32, 32], [128, 64, 16, 16]);
    const cases = [], failed = [];
    for (const shape of shapes) {
      const c = shape[1];
      const x = randn(shape, 2), w = randn([c]), b = randn([c]), dy = randn(shape);
      try {
        const runs = ['ref', device].map((be) => {
          const m = new Tensor(new Float32Array(c).fill(0.1), [c]), v = new Tensor(new Float32Array(c).fill(1.5), [c]);
          const f = bn.batchNorm2d(x, w, b, m, v, { backend: be, momentum: 0.2 });
          const g = bn.batchNorm2dBackward(x, dy, w, f.saveMean, f.saveInvStd, { backend: be });
          return { ...f, ...g, m, v, e: bn.batchNorm2dInference(x, w, b, m, v, { backend: be, eps: 1e-3 }) };
        });
        for (const k of ['y', 'saveMean', 'saveInvStd', 'm', 'v', 'e', 'dx', 'dweight', 'dbias'])
          expectClose(`${k}`, runs[1][k], runs[0][k], 1e-5, 1e-5);
        cases.push(`[${shape}]`);
      } catch (e) {
        failed.push(`[${shape}]: ${String(e.message).split('\n')[0].slice(0, 300)}`);
      }
    }
    // small-bn at batch 128 (32×32×3 input): its three batch norms, forward + backward, device-resident
    let timing = null;
    if (!small) {
      const layers = [[128, 32, 32, 32], [128, 64, 16, 16], [128, 64, 16, 16]].map((shape) => {
        const c = shape[1];
        const t = (sh) => up(randn(sh));
        return { x: t(shape), dy: t(shape), w: t([c]), b: t([c]), m: t([c]), v: up(new Tensor(new Float32Array(c).fill(1), [c])) };
      });
      const sec = timeIt(() => {
        for (const l of layers) {
          const f = bn.batchNorm2d(l.x, l.w, l.b, l.m, l.v, { backend: device });
          bn.batchNorm2dBackward(l.x, l.dy, l.w, f.saveMean, f.saveInvStd, { backend: device });
          for (const t of Object.values(f)) t.dispose?.();
        }
      }, 20);
      timing = { smallBnBatch128Ms: +(sec * 1e3).toFixed(3) };
    }
    return { ok: failed.length === 0, passed: cases.length, failed, ...(timing ? { timing } : {}) };
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

  // SGEMM GFLOP/s on random data: 4096³ and AlexNet's shapes at batch 128 (FC layers; conv layers as their
  // GEMMs), each result checked at a few entries against float64 dot products of the same inputs
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
    const a = available();
    const peak = device === 'cuda' && a.ok ? a.devices[dev.index].fp32PeakGflops : null;
    let ok = true;
    for (const [name, M, N, K, transB] of shapes) {
      const hA = randn([M, K]), hB = randn(transB ? [N, K] : [K, N]);
      const A = up(hA), B = up(hB), C = CudaTensor.zeros([M, N], dev);
      const sec = timeIt(() => matmul(A, B, { transB, out: C, backend: device }), small ? 2 : 10);
      const c = C.toHost().data;
      let maxErr = 0;
      for (const [i, j] of [[0, 0], [M - 1, N - 1], [M >> 1, N >> 1], [M - 1, 0], [0, N - 1]]) {
        let want = 0, mag = 0;
        for (let k = 0; k < K; k++) {
          const p = hA.data[i * K + k] * (transB ? hB.data[j * K + k] : hB.data[k * N + j]);
          want += p;
          mag += Math.abs(p);
        }
        maxErr = Math.max(maxErr, Math.abs(c[i * N + j] - want) / mag);
      }
      const gflops = (2 * M * N * K) / sec / 1e9;
      ok &&= maxErr < 1e-5;
      out.push({ name, M, N, K, ms: +(sec * 1e3).toFixed(3), gflops: +gflops.toFixed(1), maxRelErr: maxErr,
        ...(peak ? { shareOfFp32Peak: +(gflops / peak).toFixed(3) } : {}) });
      A.dispose(); B.dispose(); C.dispose();
    }
    return { ok, fp32PeakGflops: peak, shapes: out };
  },

  // Training rate with one batch resident on the device (PyTorch's benchmark does the same): forward, loss, backward,
  // SGD; the loss scalars come down each step. The trainer's own rate (through the loader) is the train parts'.
  async resident() {
    const model = opt('--model', 'torchvision'), batch = +opt('--batch', '128'), steps = +opt('--steps', '10');
    const { createModel, modelSpec, registerModel } = await trainerDep('@convnet/alexnet');
    const { CrossEntropyLoss } = await trainerDep('@convnet/layers');
    const { SGD } = await trainerDep('@convnet/optim');
    const bn = await trainerDep('@convnet/kernels-batchnorm');
    bn.convnetPlugin.register({ registerModel });
    const mo = model.startsWith('small') ? { channels: 3, imageSize: 32 } : {};
    const spec = modelSpec(model, mo);
    const net = createModel(model, { ...mo, seed: 3, backend: device });
    const x = up(randn([batch, ...spec.input]));
    const classes = model.startsWith('small') ? 10 : 1000;
    const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7) % classes);
    const ce = new CrossEntropyLoss();
    ce.backend = device;
    const sgd = new SGD(net.parameters(), { lr: 0.001, momentum: 0.9, weightDecay: 5e-4, backend: device });
    const losses = [];
    const step = () => {
      const r = ce.forward(net.forward(x), labels);
      net.backward(ce.backward());
      sgd.step();
      losses.push(r.loss);
    };
    step();
    step();
    dev.synchronize();
    const t0 = performance.now(), x0 = dev.transfers();
    for (let i = 0; i < steps; i++) step();
    dev.synchronize();
    const sec = (performance.now() - t0) / 1000, x1 = dev.transfers();
    return { ok: losses.every(Number.isFinite), model, batch, steps, imagesPerSec: (batch * steps) / sec, msPerStep: (sec / steps) * 1e3,
      losses, transfersPerStep: (x1.uploads + x1.downloads - x0.uploads - x0.downloads) / steps };
  },

  // The torchvision net from seed 7 (eval mode: dropout off, so PyTorch computes the same function): its weights, a
  // batch, our logits, loss and one backward's gradients, written to --dir as float32 + a manifest.json that
  // bench_torch_device.py compare reads (it loads the weights into torch's AlexNet and compares, with tolerances)
  async export() {
    const dir = opt('--dir', null);
    if (!dir) return { ok: false, error: 'export: --dir DIR is required' };
    mkdirSync(dir, { recursive: true });
    const { Net, modelSpec } = await trainerDep('@convnet/alexnet');
    const { CrossEntropyLoss } = await trainerDep('@convnet/layers');
    const batch = small ? 2 : 16, size = small ? 64 : 224, classes = small ? 10 : 1000;
    // --small: the same net with hidden FC layers of 64 (3 M parameters instead of 61 M: the emulator's time and
    // the files); PyTorch builds the net from the weights' shapes, so both sides always hold the same net
    const spec = modelSpec('torchvision', { numClasses: classes });
    if (small) spec.classifier = spec.classifier.map((l, i, all) => (l.type === 'linear' && i < all.length - 1 ? { ...l, out: 64 } : l));
    const net = new Net(spec, { seed: 7, backend: device });
    net.eval();
    const x = randn([batch, 3, size, size]);
    const labels = Int32Array.from({ length: batch }, (_, i) => (i * 3 + 1) % classes);
    const logits = net.forward(up(x));
    const ce = new CrossEntropyLoss();
    ce.backend = device;
    const r = ce.forward(logits, labels);
    net.backward(ce.backward());
    const manifest = { model: 'torchvision', batch, size, classes, loss: r.loss, device, tensors: [] };
    const files = { weights: [], grads: [] };
    const add = (kind, name, t) => {
      const h = t instanceof CudaTensor ? t.toHost() : t;
      const offset = files[kind].reduce((s, a) => s + a.length, 0);
      files[kind].push(h.data);
      manifest.tensors.push({ kind, name, shape: h.shape, offset });
    };
    for (const [name, t] of net.stateDict()) add('weights', name, t);
    add('weights', 'input', x);
    add('weights', 'logits', logits);
    for (const [name, p] of net.namedParameters()) add('grads', name, p.grad);
    for (const [kind, parts] of Object.entries(files)) {
      const all = new Float32Array(parts.reduce((s, a) => s + a.length, 0));
      let o = 0;
      for (const a of parts) { all.set(a, o); o += a.length; }
      writeFileSync(join(dir, `${kind}.f32`), new Uint8Array(all.buffer));
    }
    manifest.labels = Array.from(labels);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    return { ok: Number.isFinite(r.loss), dir, batch, size, classes, loss: r.loss };
  },
};

if (!parts[part]) fail(`unknown part '${part}' (parts: ${Object.keys(parts).join(', ')})`);
try {
  const r = await parts[part]();
  process.stdout.write(JSON.stringify({ part, ...r }) + '\n');
  process.exit(r.ok ? 0 : 1);
} catch (e) {
  fail(String(e.message).split('\n')[0]);
}
