// Data files that would cost far more than their size: gzip bombs given as IDX (with and without a readable
// header), headers declaring more than the gzipped bytes can hold, FIFOs, and pack side files of the wrong size.
// Each is refused within a second with one line naming the file.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError, readIdx } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'convnet-bombs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function idxHeader(dims: number[]): Buffer {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h.writeUInt32BE(0x800 | dims.length, 0);
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return h;
}

/** A gzip member whose FNAME field is `nameLen` bytes long (pushes the deflate data past the first 256 bytes). */
function gzipWithName(data: Buffer, nameLen: number): Buffer {
  const g = gzipSync(data, { level: 9 });
  const head = Buffer.from(g.subarray(0, 10));
  head[3] |= 0x08; // FLG.FNAME
  return Buffer.concat([head, Buffer.alloc(nameLen, 0x61), Buffer.from([0]), g.subarray(10)]);
}

function refused(path: string, re: RegExp): void {
  const t0 = performance.now();
  let err: unknown;
  try {
    readIdx(path);
  } catch (e) {
    err = e;
  }
  expect(performance.now() - t0).toBeLessThan(1000);
  expect(err).toBeInstanceOf(DataError);
  const msg = (err as Error).message;
  expect(msg).toContain(path);
  expect(msg).not.toMatch(/\n/);
  expect(msg).toMatch(re);
}

describe('IDX gzip bombs', () => {
  it('gzipped zeros with no IDX header (1 GiB inflated, 1 MB gzipped) are refused without inflating them', () => {
    const p = join(root, 'noheader.gz');
    // 1 GiB of zeros as a gzip stream: built from one 64 MiB member repeated (gzip members concatenate)
    const member = gzipSync(Buffer.alloc(64 << 20), { level: 9 });
    writeFileSync(p, Buffer.concat(Array.from({ length: 16 }, () => member)));
    refused(p, /not an IDX file: magic starts 0x00 0x00|IDX element type 0x00|gzipped data that does not start with an IDX header/);
  });

  it('a header after a 4 KB gzip file name is still found, and the bomb behind it stops at the declared size', () => {
    const p = join(root, 'longname.gz');
    writeFileSync(p, gzipWithName(Buffer.concat([idxHeader([10, 28, 28]), Buffer.alloc(256 << 20)]), 4096));
    refused(p, /decompresses to more than the 7856 bytes its IDX header declares/);
    // the same file name in front of an honest file reads
    const ok = join(root, 'ok.gz');
    writeFileSync(ok, gzipWithName(Buffer.concat([idxHeader([2, 2, 2]), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8])]), 4096));
    expect([...readIdx(ok).data]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('a header declaring more than the gzipped bytes can inflate to is refused before inflating', () => {
    const p = join(root, 'claims.gz');
    writeFileSync(p, gzipSync(Buffer.concat([idxHeader([60000, 1000, 1000]), Buffer.alloc(1 << 20)])));
    refused(p, /IDX header declares 60000000016 bytes, more than \d+ gzipped bytes can inflate to/);
  });

  it('a FIFO given as an IDX file is refused at once (reading it blocked forever)', () => {
    const p = join(root, 'fifo');
    execFileSync('mkfifo', [p]);
    refused(p, /not a regular file/);
  });
});
