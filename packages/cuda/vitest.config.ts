import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// @convnet/tensor (and its published conformance suite, @convnet/tensor/testing) resolve to their sources, so
// tests run against the workspace's current tensor code without a rebuild.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@convnet\/tensor$/, replacement: fileURLToPath(new URL('../tensor/src/index.ts', import.meta.url)) },
      { find: /^@convnet\/tensor\/testing$/, replacement: fileURLToPath(new URL('../tensor/src/testing/index.ts', import.meta.url)) },
      { find: /^@convnet\/augment$/, replacement: fileURLToPath(new URL('../augment/src/index.ts', import.meta.url)) },
    ],
  },
  test: { include: ['test/**/*.test.ts'], testTimeout: 60_000 },
});
