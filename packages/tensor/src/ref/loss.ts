/** Reference softmax and mean softmax cross-entropy with top-1 / top-k hit counts. x, logits: [n, classes]. */
import type { KernelImpl } from '../kernels.js';

type Arr = Float32Array | Float64Array;

/**
 * Softmax of row x[off .. off + classes) into out (float64), shifted by the row maximum so exp never
 * overflows. Returns log Σ_j exp(x_j) (the log-partition), which the loss needs.
 */
export function softmaxRow(x: Arr, off: number, classes: number, out: Float64Array): number {
  let max = -Infinity;
  for (let j = 0; j < classes; j++) max = Math.max(max, x[off + j]);
  let sum = 0;
  for (let j = 0; j < classes; j++) {
    out[j] = Math.exp(x[off + j] - max);
    sum += out[j];
  }
  for (let j = 0; j < classes; j++) out[j] /= sum;
  return max + Math.log(sum);
}

export function softmaxCore(x: Arr, y: Arr, n: number, classes: number): void {
  const p = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    softmaxRow(x, i * classes, classes, p);
    for (let j = 0; j < classes; j++) y[i * classes + j] = p[j];
  }
}

/**
 * Mean over rows of −log softmax(logits)[label], computed as logsumexp − logit[label] (exact even where
 * the probability underflows). Writes d(mean loss)/dlogits = (softmax − onehot) / n to dlogits and
 * returns [mean loss, top-1 hits, top-k hits]; a row is a top-k hit when fewer than k classes have a
 * strictly larger logit than its label's (so ties count in the label's favour).
 */
export function softmaxCrossEntropyCore(
  logits: Arr, labels: Int32Array, dlogits: Arr, n: number, classes: number, topk: number,
): [number, number, number] {
  const p = new Float64Array(classes);
  let loss = 0, top1 = 0, topK = 0;
  for (let i = 0; i < n; i++) {
    const off = i * classes, label = labels[i];
    const logPartition = softmaxRow(logits, off, classes, p);
    loss += logPartition - logits[off + label];
    for (let j = 0; j < classes; j++) dlogits[off + j] = (p[j] - (j === label ? 1 : 0)) / n;
    const target = logits[off + label];
    let larger = 0;
    for (let j = 0; j < classes; j++) if (logits[off + j] > target) larger++;
    if (larger < 1) top1++;
    if (larger < topk) topK++;
  }
  return [n > 0 ? loss / n : 0, top1, topK];
}

export const softmax: KernelImpl<'softmax'> = ({ x }, _attrs, { y }) => softmaxCore(x.data, y.data, x.shape[0], x.shape[1]);

export const softmaxCrossEntropy: KernelImpl<'softmaxCrossEntropy'> = ({ logits, labels }, { topk }, { loss, dlogits, hits }) => {
  const [meanLoss, top1, topK] = softmaxCrossEntropyCore(logits.data, labels, dlogits.data, logits.shape[0], logits.shape[1], topk);
  loss.data[0] = meanLoss;
  hits.data[0] = top1;
  hits.data[1] = topK;
};

/** dx = y ⊙ (dy − Σ_row dy ⊙ y) (softmax backward from its output), row dot products in float64. */
export function softmaxBackwardCore(y: Arr, dy: Arr, dx: Arr, n: number, c: number): void {
  for (let i = 0; i < n; i++) {
    let dot = 0;
    for (let j = 0; j < c; j++) dot += dy[i * c + j] * y[i * c + j];
    for (let j = 0; j < c; j++) dx[i * c + j] = y[i * c + j] * (dy[i * c + j] - dot);
  }
}

export const softmaxBackward: KernelImpl<'softmaxBackward'> = ({ y, dy }, _a, { dx }) =>
  softmaxBackwardCore(y.data, dy.data, dx.data, y.shape[0], y.shape[1]);
