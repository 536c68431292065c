import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Where a worker entry lives: beside the built module (dist/<name>.js), or, when running from source (the
 * tests), in CONVNET_IMAGENET_WORKER_DIR where the test setup bundled it.
 */
export function workerUrl(name: 'pack-worker' | 'loader-worker'): URL {
  const dir = process.env.CONVNET_IMAGENET_WORKER_DIR;
  if (dir) return pathToFileURL(join(dir, `${name}.mjs`));
  const url = new URL(`./${name}.js`, import.meta.url);
  if (import.meta.url.endsWith('.ts'))
    throw new Error(`@convnet/imagenet: running from source; worker threads need the built ${name}.js (pnpm build) or CONVNET_IMAGENET_WORKER_DIR`);
  return url;
}
