/** Reference softmax and mean softmax cross-entropy with top-1 / top-k hit counts. */
import type { KernelImpl } from '../kernels.js';

type Arr = Float32Array | Float64Array;

export function softmaxRow(x: Arr, off: number, classes: number, out: Float64Array): void {
  let max = -Infinity;
  for (let j = 0; j < classes; j++) max = Math.max(max, x[off + j]);
  let sum = 0;
  for (let j = 0; j < classes; j++) { out[j] = Math.exp(x[off + j] - max); sum += out[j]; }
  for (let j = 0; j < classes; j++) out[j] /= sum;
}

/** Returns [mean loss, top-1 hits, top-k hits]; writes the gradient of the mean loss to dlogits. */
export function softmaxCrossEntropyCore(logits: Arr, labels: Int32Array, dlogits: Arr, n: number, classes: number, topk: number): [number, number, number] {
  const p = new Float64Array(classes);
  let loss = 0, top1 = 0, topK = 0;
  for (let i = 0; i < n; i++) {
    const off = i * classes, label = labels[i];
    softmaxRow(logits, off, classes, p);
    loss -= Math.log(Math.max(p[label], Number.MIN_VALUE));
    for (let j = 0; j < classes; j++) dlogits[off + j] = (p[j] - (j === label ? 1 : 0)) / n;
    let larger = 0;
    const target = logits[off + label];
    for (let j = 0; j < classes; j++) if (logits[off + j] > target) larger++;
    if (larger === 0) top1++;
    if (larger < topk) topK++;
  }
  return [loss / n, top1, topK];
}

export const softmax: KernelImpl<'softmax'> = ({ x }, _a, { y }) => {
  const [n, classes] = x.shape;
  const p = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    softmaxRow(x.data, i * classes, classes, p);
    for (let j = 0; j < classes; j++) y.data[i * classes + j] = p[j];
  }
};

export const softmaxCrossEntropy: KernelImpl<'softmaxCrossEntropy'> = ({ logits, labels }, { topk }, { loss, dlogits, hits }) => {
  const [l, t1, tk] = softmaxCrossEntropyCore(logits.data, labels, dlogits.data, logits.shape[0], logits.shape[1], topk);
  loss.data[0] = l;
  hits.data[0] = t1;
  hits.data[1] = tk;
};
