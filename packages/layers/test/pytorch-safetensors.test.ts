// A safetensors file written from Python (test/pytorch/make_fixtures.py) loads with the right names,
// dtypes, shapes and values.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadSafetensors, loadStateDictFile } from '../src/index.js';

const file = new URL('../../../test/fixtures/state.safetensors', import.meta.url).pathname;
const want: Record<string, { dtype: string; shape: number[]; data: number[] }> = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/state.json', import.meta.url), 'utf8'),
);

describe('safetensors written by PyTorch', () => {
  it('has the expected names, dtypes and metadata', () => {
    const { tensors, metadata } = loadSafetensors(file);
    expect(metadata).toEqual({ format: 'pt', source: 'make_fixtures.py' });
    expect([...tensors.keys()].sort()).toEqual(Object.keys(want).sort());
    for (const [k, t] of tensors) {
      expect(t.dtype).toBe(want[k].dtype);
      expect(t.shape).toEqual(want[k].shape);
    }
  });

  it('converts F32, F16 and I64 to the values PyTorch wrote', () => {
    const { stateDict } = loadStateDictFile(file);
    for (const [k, t] of stateDict) {
      want[k].data.forEach((v, i) => expect(t.data[i]).toBeCloseTo(v, 6));
    }
  });
});
