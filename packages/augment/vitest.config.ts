import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@convnet/tensor': src('../tensor/src/index.ts'),
      '@convnet/augment': src('./src/index.ts'),
    },
  },
  test: { include: ['test/**/*.test.ts'], testTimeout: 60_000 },
});
