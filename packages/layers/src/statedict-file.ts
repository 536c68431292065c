/**
 * `loadStateDictFile`: a state dict from a safetensors file or a PyTorch .pth/.pt file (zip or legacy
 * torch.save), the format told by the file's first bytes, never by its extension.
 */
import { readFileSync } from 'node:fs';
import type { Tensor } from '@convnet/tensor';
import { parsePth, pthStateDict } from './pth.js';
import { parseSafetensors, SafetensorsError, toFloat32 } from './safetensors.js';

export type StateDictFormat = 'safetensors' | 'pth-zip' | 'pth-legacy';

/** The format of a state-dict file's bytes, or null when they are none of them. */
export function sniffStateDictFormat(buf: Uint8Array): StateDictFormat | null {
  if (buf.length >= 2 && buf[0] === 0x50 && buf[1] === 0x4b) return 'pth-zip';
  if (buf.length >= 2 && buf[0] === 0x80 && buf[1] >= 2 && buf[1] <= 5) return 'pth-legacy';
  // safetensors: 8-byte little-endian header length, then a JSON object
  if (buf.length >= 9 && buf[8] === 0x7b) return 'safetensors';
  return null;
}

/** Parses state-dict bytes (see loadStateDictFile); `file` names them in errors. */
export function parseStateDictFile(buf: Uint8Array, file = '<buffer>'): { stateDict: Map<string, Tensor>; metadata: Record<string, string>; format: StateDictFormat } {
  const format = sniffStateDictFormat(buf);
  if (format === 'pth-zip' || format === 'pth-legacy') return { stateDict: pthStateDict(parsePth(buf, file), file), metadata: {}, format };
  let parsed: ReturnType<typeof parseSafetensors>;
  try {
    parsed = parseSafetensors(buf, file);
  } catch (e) {
    // not recognisably safetensors either: say that both formats were considered
    if (e instanceof SafetensorsError && format === null) e.message += ' (nor is it a PyTorch .pth/.pt file written by torch.save)';
    throw e;
  }
  return { stateDict: new Map([...parsed.tensors].map(([k, t]) => [k, toFloat32(t, `${file}: ${k}`)])), metadata: parsed.metadata, format: 'safetensors' };
}

/**
 * Loads a state dict (names → float32 tensors) from a safetensors file or a torch.save file; safetensors
 * metadata is returned too (empty for .pth).
 */
export function loadStateDictFile(path: string): { stateDict: Map<string, Tensor>; metadata: Record<string, string>; format: StateDictFormat } {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseStateDictFile(buf, path);
}
