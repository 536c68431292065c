// The published conformance suite (@convnet/tensor/testing) against `ref`, run for:
//   cuda-host — the CUDA kernel bodies, launches and TypeScript backend on the host emulator (always);
//   cuda      — the real device, when one is present; otherwise one skipped test names the reason.
import { describe, it } from 'vitest';
import { registerBackend } from '@convnet/tensor';
import { describeConformance } from '@convnet/tensor/testing';
import { available, createCudaBackend } from '../src/index.js';

const names = ['cuda-host'];
registerBackend(createCudaBackend({ emulator: true }));
const a = available();
if (a.ok) {
  registerBackend(createCudaBackend());
  names.push('cuda');
} else {
  describe("backend 'cuda' vs ref", () => {
    it.skip(`skipped: CUDA is unavailable here: ${a.reason}`, () => {});
  });
}
const only = process.env.CONVNET_CONFORMANCE_BACKENDS?.split(',').filter(Boolean);
describeConformance({ backends: names.filter((b) => !only || only.includes(b)) });
