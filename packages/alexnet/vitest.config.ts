import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// one temporary folder per run (TMPDIR), removed when every test passed: test/helpers/temp-root.ts
const tempRoot = fileURLToPath(new URL('../../test/helpers/temp-root.ts', import.meta.url));

const src = (p: string) => fileURLToPath(new URL(`../${p}/src/index.ts`, import.meta.url));
export default defineConfig({
  resolve: { alias: { '@convnet/tensor': src('tensor'), '@convnet/layers': src('layers'), '@convnet/optim': src('optim') } },
  test: { include: ['test/**/*.test.ts'], globalSetup: [tempRoot], testTimeout: 120_000 },
});
