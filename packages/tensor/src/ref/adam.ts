/**
 * Reference Adam / AdamW step (kernels.ts `adamUpdate`): float64 arithmetic per element, float32 stores in the
 * order torch.optim.Adam's single-tensor loop makes them. The CUDA kernel (packages/cuda) does the same.
 */
import type { KernelAttrs, KernelImpl } from '../kernels.js';

type Arr = Float32Array | Float64Array;

export function adamCore(w: Arr, g: Arr, m: Arr, v: Arr, a: KernelAttrs<'adamUpdate'>): void {
  const { lr, beta1: b1, beta2: b2, eps, weightDecay: wd, decoupled, step } = a;
  const stepSize = lr / (1 - b1 ** step), sqrtBc2 = Math.sqrt(1 - b2 ** step);
  for (let i = 0; i < w.length; i++) {
    let gi = g[i];
    if (decoupled) w[i] = w[i] * (1 - lr * wd);
    else if (wd) gi += wd * w[i];
    m[i] = b1 * m[i] + (1 - b1) * gi;
    v[i] = b2 * v[i] + (1 - b2) * gi * gi;
    w[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / sqrtBc2 + eps);
  }
}

export const adamUpdate: KernelImpl<'adamUpdate'> = ({ g }, a, { w, m, v }) => adamCore(w.data, g.data, m.data, v.data, a);
