/**
 * Initialisers, all drawing from a seeded Rng (same seed, same weights, on every backend). A tensor in device
 * memory is filled through a host copy and one upload (reading its `data` would first download its old contents).
 */
import { Tensor, memoryOf, type Rng } from '@convnet/tensor';

function fill(t: Tensor, f: (d: Float32Array) => void): Tensor {
  if (memoryOf(t) === 'host') f(t.data);
  else {
    const h = Tensor.zeros(t.shape);
    f(h.data);
    t.copyFrom(h);
  }
  return t;
}

export function gaussian(t: Tensor, std: number, rng: Rng, mean = 0): Tensor {
  return fill(t, (d) => rng.normal(t.size, mean, std, d));
}

export function constant(t: Tensor, value: number): Tensor {
  return fill(t, (d) => d.fill(value));
}

export function uniform(t: Tensor, low: number, high: number, rng: Rng): Tensor {
  return fill(t, (d) => rng.uniform(t.size, low, high, d));
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
