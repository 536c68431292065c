import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// one temporary folder per run (TMPDIR), removed when every test passed: test/helpers/temp-root.ts
const tempRoot = fileURLToPath(new URL('../../test/helpers/temp-root.ts', import.meta.url));

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@convnet/tensor': here('../tensor/src/index.ts'),
      '@convnet/augment': here('../augment/src/index.ts'),
      '@convnet/imagenet': here('./src/index.ts'),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // Worker threads cannot run .ts: the global setup bundles src/*-worker.ts (esbuild) into this folder and
    // the library loads its workers from there when CONVNET_IMAGENET_WORKER_DIR is set.
    globalSetup: [tempRoot, 'test/bundle-workers.ts'],
    env: { CONVNET_IMAGENET_WORKER_DIR: here('./node_modules/.cache/convnet-imagenet-workers') },
  },
});
