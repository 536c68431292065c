// The shared conformance suite (packages/tensor/test/conformance.test.ts) against `ref`, run for:
//   cuda-host — the CUDA kernel bodies, launches and TypeScript backend on the host emulator (always);
//   cuda      — the real device, when one is present; otherwise one skipped test names the reason.
import { describe, it } from 'vitest';
import { registerBackend } from '@convnet/tensor';
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
process.env.CONVNET_CONFORMANCE_BACKENDS = names.join(',');
await import('../../tensor/test/conformance.test.js');
