/**
 * TensorBoard event files (`events.out.tfevents.<time>.<host>.<pid>.<n>`), written without a protobuf library.
 *
 * A file is a sequence of records: uint64 little-endian length, uint32 masked CRC-32C of those 8 bytes, the data,
 * uint32 masked CRC-32C of the data (mask: ((crc >>> 15) | (crc << 17)) + 0xa282ead8). Each record's data is one
 * `tensorflow.Event` message (tensorboard/compat/proto/event.proto): wall_time (1, double), step (2, int64) and one
 * of file_version (3, string; the first event of a file, "brain.Event:2"), summary (5) or session_log (7).
 * Scalars are `Summary.Value.simple_value` (2, float), images `Summary.Value.image` (4: height, width, colorspace,
 * PNG bytes), text a string tensor (8) with the `text` plugin's metadata (9). Every record goes to the file in one
 * append, so a killed run leaves whole records and at most one torn record at the end, which TensorBoard reads past;
 * a resumed run truncates that torn tail and writes a SessionLog START at its step (TensorBoard then drops the
 * events after that step that the earlier process had written).
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

// ---- CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), table-driven ----
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32c(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export const maskedCrc = (buf: Uint8Array) => {
  const c = crc32c(buf);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
};

/** One record: length, its masked CRC, the data, the data's masked CRC. */
export function frameRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(16 + data.length);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc(data), 12 + data.length);
  return out;
}

// ---- protobuf wire format: just what Event needs ----
class Proto {
  private parts: Buffer[] = [];
  private varint(v: bigint | number): void {
    let x = BigInt.asUintN(64, BigInt(v));
    const b: number[] = [];
    do {
      let byte = Number(x & 0x7fn);
      x >>= 7n;
      if (x) byte |= 0x80;
      b.push(byte);
    } while (x);
    this.parts.push(Buffer.from(b));
  }
  private key(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }
  int(field: number, v: number | bigint): this {
    this.key(field, 0);
    this.varint(v);
    return this;
  }
  double(field: number, v: number): this {
    this.key(field, 1);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.parts.push(b);
    return this;
  }
  float(field: number, v: number): this {
    this.key(field, 5);
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.parts.push(b);
    return this;
  }
  bytes(field: number, v: Uint8Array | string | Proto): this {
    const b = v instanceof Proto ? v.finish() : typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v);
    this.key(field, 2);
    this.varint(b.length);
    this.parts.push(b);
    return this;
  }
  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const event = (step: number, wallTime: number) => new Proto().double(1, wallTime).int(2, step);

export type SummaryValue =
  | { tag: string; scalar: number }
  | { tag: string; text: string }
  | { tag: string; image: { png: Uint8Array; height: number; width: number; channels: 1 | 3 | 4 } };

function summaryValue(v: SummaryValue): Proto {
  const p = new Proto().bytes(1, v.tag);
  if ('scalar' in v) return p.float(2, v.scalar);
  if ('image' in v)
    return p.bytes(
      4,
      new Proto().int(1, v.image.height).int(2, v.image.width).int(3, v.image.channels).bytes(4, v.image.png),
    );
  // text: a DT_STRING (7) tensor of shape [1], with the text plugin's metadata (TextPluginData is empty at version 0)
  const tensor = new Proto()
    .int(1, 7)
    .bytes(2, new Proto().bytes(2, new Proto().int(1, 1)))
    .bytes(8, v.text);
  return p.bytes(9, new Proto().bytes(1, new Proto().bytes(1, 'text').bytes(2, new Uint8Array(0)))).bytes(8, tensor);
}

export const FILE_VERSION = 'brain.Event:2';

/** Event messages (the record data), exported for tests. */
export const encodeEvent = {
  fileVersion: (wallTime: number) => event(0, wallTime).bytes(3, FILE_VERSION).finish(),
  summary: (step: number, wallTime: number, values: SummaryValue[]) => {
    const s = new Proto();
    for (const v of values) s.bytes(1, summaryValue(v));
    return event(step, wallTime).bytes(5, s).finish();
  },
  /** SessionLog status START (1): TensorBoard purges the events of later steps written before it. */
  sessionStart: (step: number, wallTime: number) => event(step, wallTime).bytes(7, new Proto().int(1, 1)).finish(),
};

export const EVENT_FILE = /^events\.out\.tfevents\.\d+\./;

/** The length of the whole records at the start of a file (a kill may leave a torn record at its end). */
export function wholeRecordsLength(fd: number): number {
  const size = fstatSync(fd).size;
  const head = Buffer.alloc(12);
  let pos = 0;
  while (pos + 12 <= size) {
    if (readSync(fd, head, 0, 12, pos) < 12) break;
    if (head.readUInt32LE(8) !== maskedCrc(head.subarray(0, 8))) break;
    const n = Number(head.readBigUInt64LE(0));
    if (pos + 16 + n > size) break;
    pos += 16 + n;
  }
  return pos;
}

let fileCounter = 0;

/**
 * Appends events to a new event file in `dir` (created if needed). Earlier event files in the folder (a run being
 * resumed) are cut back to their whole records first.
 */
export class EventFileWriter {
  readonly path: string;
  private fd: number | null;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(dir)) {
      if (!EVENT_FILE.test(f)) continue;
      const fd = openSync(join(dir, f), 'r+');
      try {
        const keep = wholeRecordsLength(fd);
        if (keep < fstatSync(fd).size) ftruncateSync(fd, keep);
      } finally {
        closeSync(fd);
      }
    }
    const now = Date.now() / 1000;
    const host = hostname().replace(/[^\w.-]/g, '_');
    let name: string;
    do name = `events.out.tfevents.${Math.floor(now)}.${host}.${process.pid}.${fileCounter++}`;
    while (existsSync(join(dir, name)));
    this.path = join(dir, name);
    this.fd = openSync(this.path, 'a');
    this.append(encodeEvent.fileVersion(now));
  }

  private append(data: Uint8Array): void {
    if (this.fd === null) return;
    const rec = frameRecord(data);
    // one write per record; writeSync may write less than asked (a full disk): then the rest or an error
    for (let off = 0; off < rec.length; ) off += writeSync(this.fd, rec, off, rec.length - off);
  }

  summary(step: number, values: SummaryValue[], wallTime = Date.now() / 1000): void {
    const ok = values.filter((v) => !('scalar' in v) || Number.isFinite(v.scalar));
    if (ok.length) this.append(encodeEvent.summary(step, wallTime, ok));
  }

  sessionStart(step: number, wallTime = Date.now() / 1000): void {
    this.append(encodeEvent.sessionStart(step, wallTime));
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * conv1 filters [o, c, kh, kw] as a picture: a grid of cells, each filter min-max scaled on its own (as in
 * report.ts's SVG), magnified `cell` times; RGB for 3+ input channels, grey otherwise. Returns raw pixels.
 */
export function filterGridPixels(
  weight: Float32Array,
  shape: readonly number[],
  cell = 4,
): { data: Buffer; width: number; height: number; channels: 1 | 3 } {
  const [o, c, kh, kw] = shape;
  const cols = Math.min(o, o >= 48 ? 16 : 8),
    rows = Math.ceil(o / cols),
    pad = 1;
  const channels = c >= 3 ? 3 : 1;
  const width = cols * (kw * cell + pad) + pad,
    height = rows * (kh * cell + pad) + pad;
  const data = Buffer.alloc(width * height * channels, 0x22);
  for (let f = 0; f < o; f++) {
    const base = f * c * kh * kw;
    let lo = Infinity,
      hi = -Infinity;
    for (let i = 0; i < c * kh * kw; i++) {
      lo = Math.min(lo, weight[base + i]);
      hi = Math.max(hi, weight[base + i]);
    }
    const span = hi - lo || 1;
    const ox = pad + (f % cols) * (kw * cell + pad),
      oy = pad + Math.floor(f / cols) * (kh * cell + pad);
    for (let y = 0; y < kh * cell; y++)
      for (let x = 0; x < kw * cell; x++)
        for (let k = 0; k < channels; k++) {
          const v = weight[base + (k * kh + Math.floor(y / cell)) * kw + Math.floor(x / cell)];
          data[((oy + y) * width + ox + x) * channels + k] = Math.round((255 * (v - lo)) / span);
        }
  }
  return { data, width, height, channels };
}
