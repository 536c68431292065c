/**
 * Atomic file writes, shared by every package that saves something a user keeps (checkpoints, packs,
 * reports): write to a temporary name in the same directory, fsync, rename over the target. A crash leaves
 * the old file or the new one, never half of one.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';

let counter = 0;

/**
 * A temporary name beside `path` (same directory, so the final rename is atomic), unique per process,
 * worker thread and call, so concurrent writers never share one.
 */
export function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${threadId}.${Date.now().toString(36)}.${(counter++).toString(36)}.tmp`);
}

/**
 * Writes `data` (a string, bytes, or several byte chunks in order) to `path` atomically. With `mkdir`, creates
 * the directory first; otherwise a missing directory is an error. On any failure the temporary file is removed.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array | Uint8Array[], opts: { mkdir?: boolean } = {}): void {
  if (opts.mkdir) mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPath(path);
  const fd = openSync(tmp, 'w');
  let open = true;
  try {
    for (const part of Array.isArray(data) ? data : [data]) {
      const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    }
    fsyncSync(fd);
    open = false;
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    if (open) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
}
