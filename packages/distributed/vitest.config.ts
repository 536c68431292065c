import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`../${p}/src/index.ts`, import.meta.url));
export default defineConfig({
  resolve: { alias: { '@convnet/tensor': src('tensor'), '@convnet/layers': src('layers') } },
  // the MPI tests start several processes each: run files one after another
  test: { include: ['test/**/*.test.ts'], testTimeout: 90_000, fileParallelism: false },
});
