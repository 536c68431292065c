import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default async function setup(): Promise<void> {
  await build({
    entryPoints: { 'pack-worker': here('../src/pack-worker.ts'), 'loader-worker': here('../src/loader-worker.ts') },
    outdir: here('../node_modules/.cache/convnet-imagenet-workers'),
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['sharp'],
    alias: {
      '@convnet/tensor': here('../../tensor/src/index.ts'),
      '@convnet/augment': here('../../augment/src/index.ts'),
    },
    logLevel: 'warning',
  });
}
