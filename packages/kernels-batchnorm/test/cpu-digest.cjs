// The CPU addon's three kernels on fixed inputs, digested (sha256 of every output's bytes): the tests compare
// digests across thread counts and, run as a child process under CONVNET_ISA=generic, across instruction sets.
//   node test/cpu-digest.cjs THREADS   prints {"isa": ..., "digest": ...}
const { createHash } = require('node:crypto');
const { resolve } = require('node:path');

// x [64, 7, 23, 23]: 7 channels (uneven splits over threads), planes of 529 (8-lane body and a 1-value tail),
// 237 k values (enough work for 7 threads); mean 2.5, std 1.5
const SHAPE = { n: 64, c: 7, plane: 23 * 23 };

function inputs() {
  let s = 7;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const fill = (len, scale, mean) => Float32Array.from({ length: len }, () => (rnd() + rnd() + rnd() - 1.5) * 2 * scale + mean);
  const len = SHAPE.n * SHAPE.c * SHAPE.plane, c = SHAPE.c;
  return { len, x: fill(len, 1.5, 2.5), dy: fill(len, 0.1, 0), w: fill(c, 0.3, 1), b: fill(c, 0.2, 0), rm: fill(c, 0.5, 2), rv: fill(c, 0.2, 1.5) };
}

// threads: @convnet/native's pool size for the call (the addon runs on that pool)
function digest(addon, threads) {
  require('@convnet/native').setNumThreads(threads);
  const i = inputs(), c = SHAPE.c;
  const y = new Float32Array(i.len), mean = new Float32Array(c), inv = new Float32Array(c);
  const rm = Float32Array.from(i.rm), rv = Float32Array.from(i.rv);
  addon.batchNorm2d({ ...SHAPE, eps: 1e-5, momentum: 0.1 }, i.x, i.w, i.b, y, mean, inv, rm, rv);
  const dx = new Float32Array(i.len), dw = new Float32Array(c), db = new Float32Array(c);
  addon.batchNorm2dBackward({ ...SHAPE }, i.x, i.dy, i.w, mean, inv, dx, dw, db);
  const e = new Float32Array(i.len);
  addon.batchNorm2dInference({ ...SHAPE, eps: 1e-5 }, i.x, i.w, i.b, rm, rv, e);
  const h = createHash('sha256');
  for (const a of [y, mean, inv, rm, rv, dx, dw, db, e]) h.update(new Uint8Array(a.buffer));
  return h.digest('hex');
}

function load() {
  const { tryLoadAddon } = require('@convnet/native/loader');
  const l = tryLoadAddon({ name: '@convnet/kernels-batchnorm', root: resolve(__dirname, '..'), file: 'convnet_batchnorm.node', optional: true });
  if (l.error !== undefined) throw new Error(l.error);
  l.addon.useRuntime(require('@convnet/native').runtime());
  return l.addon;
}

module.exports = { SHAPE, inputs, digest, load };

if (require.main === module) {
  const a = load();
  console.log(JSON.stringify({ isa: a.info().isa, digest: digest(a, Number(process.argv[2] ?? 1)) }));
}
