import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// one temporary folder per run (TMPDIR), removed when every test passed: test/helpers/temp-root.ts
const tempRoot = fileURLToPath(new URL('../../test/helpers/temp-root.ts', import.meta.url));

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
  test: { include: ['test/**/*.test.ts'], globalSetup: [tempRoot], testTimeout: 60_000 },
});
