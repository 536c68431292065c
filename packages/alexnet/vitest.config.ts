import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`../${p}/src/index.ts`, import.meta.url));
export default defineConfig({
  resolve: { alias: { '@convnet/tensor': src('tensor'), '@convnet/layers': src('layers') } },
  test: { include: ['test/**/*.test.ts'], testTimeout: 120_000 },
});
