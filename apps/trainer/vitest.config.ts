import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`../../packages/${p}/src/index.ts`, import.meta.url));
export default defineConfig({
  resolve: { alias: { '@convnet/tensor': src('tensor') } },
  test: { include: ['test/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 60_000, fileParallelism: false },
});
