/**
 * Reference SGD step, both formulations (see kernels.ts `sgdUpdate`), element by element in float64.
 * 'pytorch' follows torch.optim.SGD: the buffer is v = d on the first step (no dampening then) and is left
 * untouched when momentum is 0. 'paper' (Krizhevsky et al. 2012, section 5) ignores firstStep: its v
 * starts at zero, which a zero-filled buffer already is.
 */
import type { KernelAttrs, KernelImpl } from '../kernels.js';

type Arr = Float32Array | Float64Array;

export function sgdCore(w: Arr, g: Arr, v: Arr, a: KernelAttrs<'sgdUpdate'>): void {
  const { lr, momentum: mu, weightDecay: wd, dampening, nesterov, rule, firstStep } = a;
  for (let i = 0; i < w.length; i++) {
    if (rule === 'paper') {
      const vi = mu * v[i] - lr * wd * w[i] - lr * g[i];
      v[i] = vi;
      w[i] = w[i] + vi;
      continue;
    }
    let d = g[i] + wd * w[i];
    if (mu !== 0) {
      const vi = firstStep ? d : mu * v[i] + (1 - dampening) * d;
      v[i] = vi;
      d = nesterov ? d + mu * vi : vi;
    }
    w[i] = w[i] - lr * d;
  }
}

export const sgdUpdate: KernelImpl<'sgdUpdate'> = ({ g }, a, { w, v }) => sgdCore(w.data, g.data, v.data, a);
