// Runs a self-contained check in a fresh Node process, so that environment switches read once per process
// (CONVNET_ISA, CONVNET_GEMM_EMULATE_AVX512, CONVNET_BF16_ENGINE, CONVNET_CONV_TRACE, the thread count) take effect.
// `fn` is sent as source text: it must use nothing but its argument (the addon) and globals.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const addonPath = fileURLToPath(new URL('../index.cjs', import.meta.url));

/**
 * A seeded generator of uniform numbers in [-0.5, 0.5) (mulberry32) for test inputs. Self-contained, so the
 * functions sent to child processes can carry a copy of the same few lines.
 */
export function seededRand(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

/** Node's stdout and stderr after running `src` (source text) in a child process with `env` added. */
export function runSource(src: string, env: Record<string, string> = {}): { stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-e', src], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`child process failed (${JSON.stringify(env)}): ${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/** fn(addon) in a child process with `env` added (and setNumThreads(threads) first when given); its JSON result. */
export function inChild<T>(fn: (nat: any) => T, env: Record<string, string> = {}, threads?: number): T {
  const src = `const nat = require(${JSON.stringify(addonPath)}); ${threads ? `nat.setNumThreads(${threads});` : ''}
    const fn = ${fn.toString()}; console.log(JSON.stringify(fn(nat)));`;
  return JSON.parse(runSource(src, env).stdout.trim().split('\n').pop()!);
}
