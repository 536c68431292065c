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
    m[f] = (t) => { const s = performance.now(); const r = orig(t); const k = `${name} ${m.constructor.name} ${f}`; times.set(k, (times.get(k) ?? 0) + performance.now() - s); return r; };
  }
}
wrap('', net);
let optT = 0;
const step = kind === 'infer' ? () => net.forward(x) : () => { ce.forward(net.forward(x), labels); net.backward(ce.backward()); const s = performance.now(); opt.step(); optT += performance.now() - s; };
step(); times.clear(); optT = 0;
const N = Number(n ?? 2); const s0 = performance.now();
for (let i = 0; i < N; i++) step();
const tot = performance.now() - s0;
console.log(kind, model, batch, (batch * N / tot * 1000).toFixed(1), 'img/s');
for (const [k, v] of [...times].sort((a, b) => b[1] - a[1])) console.log(k.padEnd(40), (v / N).toFixed(1).padStart(8), 'ms', (100 * v / tot).toFixed(1).padStart(5) + '%');
console.log('opt'.padEnd(40), (optT / N).toFixed(1).padStart(8), 'ms');
