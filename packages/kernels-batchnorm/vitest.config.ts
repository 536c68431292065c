import { defineConfig } from 'vitest/config';

// Tests import the built @convnet/* packages, as a user's tests would.
export default defineConfig({
  test: { include: ['test/**/*.test.ts'], testTimeout: 60_000 },
});
