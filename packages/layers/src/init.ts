/** Initialisers, all drawing from a seeded Rng (same seed, same weights, on every backend). */
import type { Rng, Tensor } from '@convnet/tensor';

export function gaussian(t: Tensor, std: number, rng: Rng, mean = 0): Tensor {
  rng.normal(t.size, mean, std, t.data);
  return t;
}

export function constant(t: Tensor, value: number): Tensor {
  t.data.fill(value);
  return t;
}

export function uniform(t: Tensor, low: number, high: number, rng: Rng): Tensor {
  rng.uniform(t.size, low, high, t.data);
  return t;
}

/** fan_in of a weight: in_features for [out, in], (in/groups)·kh·kw for [out, in/groups, kh, kw]. */
export function fanIn(shape: readonly number[]): number {
  return shape.slice(1).reduce((a, d) => a * d, 1);
}

/**
 * PyTorch's default Conv2d/Linear initialisation: weight kaiming_uniform(a=√5), i.e. U(±1/√fan_in), and
 * bias U(±1/√fan_in).
 */
export function pytorchDefault(weight: Tensor, bias: Tensor | null, rng: Rng): void {
  const bound = 1 / Math.sqrt(fanIn(weight.shape));
  uniform(weight, -bound, bound, rng);
  if (bias) uniform(bias, -bound, bound, rng);
}
