import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// @convnet/tensor resolves to its sources so that this package's backends and the shared conformance suite
// (packages/tensor/test/conformance.test.ts, imported by test/conformance.test.ts) use one registry.
export default defineConfig({
  resolve: {
    alias: {
      '@convnet/tensor': fileURLToPath(new URL('../tensor/src/index.ts', import.meta.url)),
      '@convnet/augment': fileURLToPath(new URL('../augment/src/index.ts', import.meta.url)),
    },
  },
  test: { include: ['test/**/*.test.ts'], testTimeout: 60_000 },
});
