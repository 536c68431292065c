/**
 * The `ref` kernels: plain loops with float64 accumulation over x [n, c, plane] (NCHW with plane = h·w). The
 * *Core functions take Float32Array or Float64Array, so the gradient checks run the same math in float64.
 *
 *   training:   mean_c = Σ x / M,  var_c = Σ (x − mean_c)² / M  (M = n·plane, biased),  invStd_c = 1/√(var_c + eps)
 *               y = (x − mean_c)·invStd_c·weight_c + bias_c
 *               running_mean ← (1 − momentum)·running_mean + momentum·mean_c
 *               running_var  ← (1 − momentum)·running_var  + momentum·var_c·M/(M − 1)   (unbiased, as PyTorch)
 *   inference:  y = (x − running_mean_c)/√(running_var_c + eps)·weight_c + bias_c
 *   backward:   x̂ = (x − mean_c)·invStd_c, dbias_c = Σ dy, dweight_c = Σ dy·x̂,
 *               dx = weight_c·invStd_c/M · (M·dy − dbias_c − x̂·dweight_c)
 */
type Arr = Float32Array | Float64Array;

export interface BnDims { n: number; c: number; plane: number }

/** Batch statistics of channel ch: [mean, biased variance], two passes in float64. */
export function channelStats(x: Arr, d: BnDims, ch: number): [number, number] {
  const { n, c, plane } = d;
  const M = n * plane;
  let s = 0;
  for (let i = 0; i < n; i++) for (let k = 0, o = (i * c + ch) * plane; k < plane; k++) s += x[o + k];
  const mean = s / M;
  let v = 0;
  for (let i = 0; i < n; i++) for (let k = 0, o = (i * c + ch) * plane; k < plane; k++) v += (x[o + k] - mean) ** 2;
  return [mean, v / M];
}

/** Training-mode forward: y, and the saved mean and 1/√(var + eps) per channel. */
export function batchNormTrainCore(x: Arr, weight: Arr, bias: Arr, y: Arr, saveMean: Arr, saveInvStd: Arr, d: BnDims, eps: number): void {
  const { n, c, plane } = d;
  for (let ch = 0; ch < c; ch++) {
    const [mean, variance] = channelStats(x, d, ch);
    const inv = 1 / Math.sqrt(variance + eps);
    saveMean[ch] = mean;
    saveInvStd[ch] = inv;
    const a = inv * weight[ch], b = bias[ch] - mean * inv * weight[ch];
    for (let i = 0; i < n; i++) for (let k = 0, o = (i * c + ch) * plane; k < plane; k++) y[o + k] = x[o + k] * a + b;
  }
}

/** running ← (1 − momentum)·running + momentum·batch statistic (the variance unbiased). */
export function updateRunningCore(x: Arr, runningMean: Arr, runningVar: Arr, d: BnDims, momentum: number): void {
  const M = d.n * d.plane;
  for (let ch = 0; ch < d.c; ch++) {
    const [mean, variance] = channelStats(x, d, ch);
    runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * mean;
    runningVar[ch] = (1 - momentum) * runningVar[ch] + momentum * (M > 1 ? (variance * M) / (M - 1) : variance);
  }
}

export function batchNormInferenceCore(x: Arr, weight: Arr, bias: Arr, runningMean: Arr, runningVar: Arr, y: Arr, d: BnDims, eps: number): void {
  const { n, c, plane } = d;
  for (let ch = 0; ch < c; ch++) {
    const inv = 1 / Math.sqrt(runningVar[ch] + eps);
    const a = inv * weight[ch], b = bias[ch] - runningMean[ch] * inv * weight[ch];
    for (let i = 0; i < n; i++) for (let k = 0, o = (i * c + ch) * plane; k < plane; k++) y[o + k] = x[o + k] * a + b;
  }
}

/** dx, dweight, dbias of the training-mode forward (dx through the batch statistics). */
export function batchNormBackwardCore(
  x: Arr, dy: Arr, weight: Arr, saveMean: Arr, saveInvStd: Arr, dx: Arr, dweight: Arr, dbias: Arr, d: BnDims,
): void {
  const { n, c, plane } = d;
  const M = n * plane;
  for (let ch = 0; ch < c; ch++) {
    const mean = saveMean[ch], inv = saveInvStd[ch];
    let sdy = 0, sdyx = 0;
    for (let i = 0; i < n; i++) {
      for (let k = 0, o = (i * c + ch) * plane; k < plane; k++) {
        sdy += dy[o + k];
        sdyx += dy[o + k] * (x[o + k] - mean) * inv;
      }
    }
    dbias[ch] = sdy;
    dweight[ch] = sdyx;
    const g = (weight[ch] * inv) / M;
    for (let i = 0; i < n; i++) {
      for (let k = 0, o = (i * c + ch) * plane; k < plane; k++) {
        dx[o + k] = g * (M * dy[o + k] - sdy - (x[o + k] - mean) * inv * sdyx);
      }
    }
  }
}
