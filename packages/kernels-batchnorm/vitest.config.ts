import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// one temporary folder per run (TMPDIR), removed when every test passed: test/helpers/temp-root.ts
const tempRoot = fileURLToPath(new URL('../../test/helpers/temp-root.ts', import.meta.url));

// Tests import the built @convnet/* packages, as a user's tests would.
export default defineConfig({
  test: { include: ['test/**/*.test.ts'], globalSetup: [tempRoot], testTimeout: 60_000 },
});
