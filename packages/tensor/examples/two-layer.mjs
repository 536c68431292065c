// Trains a two-layer network (2 → 64 → 3, ReLU) on a three-arm spiral with the ops of @convnet/tensor
// on the native `cpu` backend, and prints the loss falling. Run: node packages/tensor/examples/two-layer.mjs
import {
  Rng, Tensor, activation, activationBackward, biasAdd, conv2dBackwardBias, matmul, softmaxCrossEntropy, sgdUpdate,
} from '@convnet/tensor';

const classes = 3, perClass = 100, hidden = 64, n = classes * perClass;
const rng = new Rng(42);
const x = Tensor.zeros([n, 2]);
const labels = new Int32Array(n);
const noise = rng.normal(n, 0, 0.2);
for (let c = 0; c < classes; c++) {
  for (let i = 0; i < perClass; i++) {
    const j = c * perClass + i, r = i / perClass, t = c * 4 + r * 4 + noise[j];
    x.data[2 * j] = r * Math.sin(t);
    x.data[2 * j + 1] = r * Math.cos(t);
    labels[j] = c;
  }
}

const w1 = new Tensor(rng.normal(hidden * 2, 0, 0.5), [hidden, 2]), b1 = Tensor.zeros([hidden]);
const w2 = new Tensor(rng.normal(classes * hidden, 0, 0.1), [classes, hidden]), b2 = Tensor.zeros([classes]);
const params = [w1, b1, w2, b2].map((w) => ({ w, v: Tensor.zeros(w.shape) }));

for (let step = 0; step <= 2000; step++) {
  // forward: h = relu(x·W1ᵀ + b1); logits = h·W2ᵀ + b2
  const pre = biasAdd(matmul(x, w1, { transB: true }), b1);
  const h = activation(pre, 'relu');
  const logits = biasAdd(matmul(h, w2, { transB: true }), b2);
  const { loss, dlogits, top1Hits } = softmaxCrossEntropy(logits, labels, { topk: 1 });
  // backward
  const dw2 = matmul(dlogits, h, { transA: true }), db2 = conv2dBackwardBias(dlogits);
  const dh = activationBackward(pre, h, matmul(dlogits, w2), 'relu');
  const dw1 = matmul(dh, x, { transA: true }), db1 = conv2dBackwardBias(dh);
  [dw1, db1, dw2, db2].forEach((g, i) =>
    sgdUpdate(params[i].w, g, params[i].v, { lr: 0.5, momentum: 0.9, weightDecay: 1e-4, firstStep: step === 0 }),
  );
  if (step % 250 === 0) console.log(`step ${String(step).padStart(4)}  loss ${loss.toFixed(4)}  accuracy ${((100 * top1Hits) / n).toFixed(1)}%`);
}
