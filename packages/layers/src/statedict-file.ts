/**
 * `loadStateDictFile`: a state dict from a safetensors file or a PyTorch .pth/.pt file (zip or legacy
 * torch.save), the format told by the file's first bytes, never by its extension.
 */
import { readFileSync, statSync } from 'node:fs';
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

/** A parsed state-dict file: float32 tensors, each tensor's dtype in the file (F32, F16, I64, ...), metadata. */
export interface StateDictFile {
  stateDict: Map<string, Tensor>;
  /** The element type each tensor had in the file, before it became float32. */
  dtypes: Map<string, string>;
  metadata: Record<string, string>;
  format: StateDictFormat;
}

/** Parses state-dict bytes (see loadStateDictFile); `file` names them in errors. */
export function parseStateDictFile(buf: Uint8Array, file = '<buffer>'): StateDictFile {
  const format = sniffStateDictFormat(buf);
  const dtypes = new Map<string, string>();
  if (format === 'pth-zip' || format === 'pth-legacy') return { stateDict: pthStateDict(parsePth(buf, file), file, dtypes), dtypes, metadata: {}, format };
  let parsed: ReturnType<typeof parseSafetensors>;
  try {
    parsed = parseSafetensors(buf, file);
  } catch (e) {
    // not recognisably safetensors either: say that both formats were considered
    if (e instanceof SafetensorsError && format === null) e.message += ' (nor is it a PyTorch .pth/.pt file written by torch.save)';
    throw e;
  }
  for (const [k, t] of parsed.tensors) dtypes.set(k, t.dtype);
  return { stateDict: new Map([...parsed.tensors].map(([k, t]) => [k, toFloat32(t, `${file}: ${k}`)])), dtypes, metadata: parsed.metadata, format: 'safetensors' };
}

/**
 * Loads a state dict (names → float32 tensors) from a safetensors file or a torch.save file; safetensors
 * metadata is returned too (empty for .pth).
 */
export function loadStateDictFile(path: string): StateDictFile {
  let buf: Buffer;
  let regular: boolean;
  try {
    const st = statSync(path);
    // a FIFO or a device would block or never end: only regular files are read (a directory fails as EISDIR)
    regular = st.isFile() || st.isDirectory();
    buf = regular ? readFileSync(path) : Buffer.alloc(0);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!regular) throw new Error(`${path}: not a regular file (a directory, FIFO or device); a state dict is a file`);
  return parseStateDictFile(buf, path);
}
