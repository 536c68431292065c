import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`../${p}/src/index.ts`, import.meta.url));
export default defineConfig({
  resolve: { alias: { '@convnet/tensor': src('tensor'), '@convnet/layers': src('layers'), '@convnet/optim': src('optim') } },
  // --expose-gc: the RSS test collects garbage before each measurement
  test: { include: ['test/**/*.test.ts'], testTimeout: 120_000, execArgv: ['--expose-gc'] },
});
