// Contract C1 from a user's side: @convnet/tensor's CJS build (what `require('@convnet/tensor')` loads) and its
// ESM build (what these layers import) in one process are two copies with two Tensor classes; layers must accept
// either copy's tensors and compute the same numbers.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { Rng, Tensor, isTensor } from '@convnet/tensor';
import { Conv2d, Linear, Module, Sequential, Flatten, MODULE_BRAND, isModule, serializeSafetensors } from '../src/index.js';

const cjs = createRequire(import.meta.url)('@convnet/tensor') as typeof import('@convnet/tensor');
/** This package's CJS build (`pnpm build` first): another copy of Module, as a plugin's nested install would be. */
const layersCjs = createRequire(import.meta.url)('../dist/index.cjs') as typeof import('../src/index.js');

describe('layers accept tensors of another @convnet/tensor copy', () => {
  it('Conv2d + Linear forward/backward on a CJS-built tensor equals the ESM-built one', () => {
    expect(cjs.Tensor).not.toBe(Tensor);
    const make = () => new Sequential([new Conv2d(2, 3, 3, { padding: 1, rng: new Rng(7) }), new Flatten(), new Linear(3 * 4 * 4, 2, { rng: new Rng(8) })]);
    const values = Array.from({ length: 2 * 2 * 4 * 4 }, (_, i) => Math.sin(i));
    const a = make(), b = make();
    const ya = a.forward(Tensor.from(values, [2, 2, 4, 4])).toArray();
    const yb = b.forward(cjs.Tensor.from(values, [2, 2, 4, 4])).toArray();
    expect(yb).toEqual(ya);
    const dxa = a.backward(Tensor.from([1, -1, 0.5, 2], [2, 2])).toArray();
    const dxb = b.backward(cjs.Tensor.from([1, -1, 0.5, 2], [2, 2])).toArray();
    expect(dxb).toEqual(dxa);
    expect(isTensor(cjs.Tensor.zeros([1]))).toBe(true);
    expect(serializeSafetensors(new Map([['w', cjs.Tensor.zeros([2])]])).length).toBeGreaterThan(0);
  });

  it('a non-tensor input is named in the error', () => {
    expect(() => new Conv2d(2, 3, 3).forward({ shape: [1, 2, 4, 4] } as unknown as Tensor)).toThrow(/Conv2d.*expected a Tensor.*got object/);
  });
});

describe('modules of another @convnet/layers copy', () => {
  it('a Linear built by the CJS copy is a Module here and runs inside this copy\'s Sequential', () => {
    expect(layersCjs.Module).not.toBe(Module);
    const other = new layersCjs.Linear(4, 2, { rng: new Rng(3) });
    const mine = new Linear(4, 2, { rng: new Rng(3) });
    expect(other instanceof Module).toBe(true);
    expect(isModule(other)).toBe(true);
    const x = Tensor.from([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]);
    const net = new Sequential([new Flatten(), other as unknown as Module]);
    expect(net.forward(x).toArray()).toEqual(new Sequential([new Flatten(), mine]).forward(x).toArray());
    expect(net.namedParameters().map(([n]) => n)).toEqual(['1.weight', '1.bias']);
  });

  it('a module of another module ABI is refused with both numbers; a non-module is named', () => {
    const future = { [MODULE_BRAND]: 2, forward: () => null };
    expect(isModule(future)).toBe(false);
    expect(() => new Sequential([future as unknown as Module])).toThrow(/registerModule\('0'\): expected a Module, got a Module of another @convnet\/layers version \(module ABI 2; this copy has 1\)/);
    expect(() => new Sequential([{} as unknown as Module])).toThrow(/got an object of class Object without the Module brand/);
  });
});
