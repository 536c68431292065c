import { createRequire } from 'node:module';
import type * as NativeModule from '@convnet/native';

export type Native = typeof NativeModule;

let cached: Native | null = null;

/** The @convnet/native addon (loaded on first use). */
export function native(): Native {
  if (!cached) cached = createRequire(import.meta.url)('@convnet/native') as Native;
  return cached;
}
