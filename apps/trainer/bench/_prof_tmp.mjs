import { Rng, Tensor, native } from '@convnet/tensor';
import { CrossEntropyLoss } from '@convnet/layers';
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
const step = kind === 'infer' ? () => net.forward(x) : () => { ce.forward(net.forward(x), labels); net.backward(ce.backward()); opt.step(); };
step();
const t = [];
for (let i = 0; i < Number(n ?? 3); i++) { const s = performance.now(); step(); t.push(performance.now() - s); }
console.log(kind, model, batch, t.map((v) => (batch / v * 1000).toFixed(1)).join(' '), 'img/s', 'rss', (process.resourceUsage().maxRSS/1024).toFixed(0));
