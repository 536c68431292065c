import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', 'fixtures/**'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // one temporary folder per run (TMPDIR), removed when every test passed; then the packed tarballs
    globalSetup: ['./helpers/temp-root.ts', './release/setup.ts'],
  },
});
