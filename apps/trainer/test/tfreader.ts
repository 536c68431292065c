// An event-file reader written from TensorBoard's format, independent of src/tfevents.ts: the record framing
// (tensorflow/core/lib/io/record_writer: uint64 LE length, masked CRC-32C of it, data, masked CRC-32C of the data)
// and event.proto / summary.proto / tensor.proto decoded field by field. The CRC here is bitwise (the writer's is
// table-driven).

/** CRC-32C one bit at a time (polynomial 0x1EDC6F41, reflected 0x82F63B78). */
export function crc32cBitwise(buf: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of buf) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0x82f63b78 & -(crc & 1));
  }
  return ~crc >>> 0;
}

const MASK_DELTA = 0xa282ead8;
export const unmask = (m: number) => {
  const rot = (m - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
};

export interface RecordRead {
  records: Uint8Array[];
  /** Bytes after the last whole record (a torn record), and why reading stopped there. */
  tailBytes: number;
  stop: 'end' | 'truncated' | 'length crc' | 'data crc';
}

export function readRecords(file: Uint8Array): RecordRead {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const records: Uint8Array[] = [];
  let pos = 0;
  while (pos < file.length) {
    if (pos + 12 > file.length) return { records, tailBytes: file.length - pos, stop: 'truncated' };
    const len = Number(dv.getBigUint64(pos, true));
    if (unmask(dv.getUint32(pos + 8, true)) !== crc32cBitwise(file.subarray(pos, pos + 8)))
      return { records, tailBytes: file.length - pos, stop: 'length crc' };
    if (pos + 12 + len + 4 > file.length) return { records, tailBytes: file.length - pos, stop: 'truncated' };
    const data = file.subarray(pos + 12, pos + 12 + len);
    if (unmask(dv.getUint32(pos + 12 + len, true)) !== crc32cBitwise(data))
      return { records, tailBytes: file.length - pos, stop: 'data crc' };
    records.push(data);
    pos += 16 + len;
  }
  return { records, tailBytes: 0, stop: 'end' };
}

type Field = { no: number; wire: number; varint?: bigint; fixed64?: DataView; fixed32?: DataView; bytes?: Uint8Array };

/** A protobuf message as its fields in order (wire types 0, 1, 2, 5). */
export function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let p = 0;
  const varint = (): bigint => {
    let v = 0n,
      shift = 0n;
    for (;;) {
      if (p >= buf.length) throw new Error('varint runs past the end');
      const b = buf[p++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (p < buf.length) {
    const key = Number(varint());
    const no = key >>> 3,
      wire = key & 7;
    if (wire === 0) out.push({ no, wire, varint: varint() });
    else if (wire === 1) {
      out.push({ no, wire, fixed64: new DataView(buf.buffer, buf.byteOffset + p, 8) });
      p += 8;
    } else if (wire === 5) {
      out.push({ no, wire, fixed32: new DataView(buf.buffer, buf.byteOffset + p, 4) });
      p += 4;
    } else if (wire === 2) {
      const n = Number(varint());
      out.push({ no, wire, bytes: buf.subarray(p, p + n) });
      p += n;
    } else throw new Error(`wire type ${wire}`);
    if (p > buf.length) throw new Error('field runs past the end');
  }
  return out;
}

export interface TbValue {
  tag: string;
  simpleValue?: number;
  image?: { height: number; width: number; colorspace: number; png: Uint8Array };
  text?: string[];
  pluginName?: string;
  dtype?: number;
}

export interface TbEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  sessionLogStatus?: number;
  values?: TbValue[];
}

const utf8 = (b?: Uint8Array) => new TextDecoder().decode(b);

function value(buf: Uint8Array): TbValue {
  const v: TbValue = { tag: '' };
  for (const f of fields(buf)) {
    if (f.no === 1) v.tag = utf8(f.bytes);
    else if (f.no === 2) v.simpleValue = f.fixed32!.getFloat32(0, true);
    else if (f.no === 4) {
      const im: { height: number; width: number; colorspace: number; png: Uint8Array } = {
        height: 0,
        width: 0,
        colorspace: 0,
        png: new Uint8Array(0),
      };
      for (const g of fields(f.bytes!)) {
        if (g.no === 1) im.height = Number(g.varint);
        else if (g.no === 2) im.width = Number(g.varint);
        else if (g.no === 3) im.colorspace = Number(g.varint);
        else if (g.no === 4) im.png = g.bytes!;
      }
      v.image = im;
    } else if (f.no === 8) {
      v.text = [];
      for (const g of fields(f.bytes!)) {
        if (g.no === 1) v.dtype = Number(g.varint);
        else if (g.no === 8) v.text.push(utf8(g.bytes));
      }
    } else if (f.no === 9) {
      for (const g of fields(f.bytes!))
        if (g.no === 1) for (const h of fields(g.bytes!)) if (h.no === 1) v.pluginName = utf8(h.bytes);
    }
  }
  return v;
}

export function decodeEvent(buf: Uint8Array): TbEvent {
  const e: TbEvent = { wallTime: 0, step: 0 };
  for (const f of fields(buf)) {
    if (f.no === 1) e.wallTime = f.fixed64!.getFloat64(0, true);
    else if (f.no === 2) e.step = Number(BigInt.asIntN(64, f.varint!));
    else if (f.no === 3) e.fileVersion = utf8(f.bytes);
    else if (f.no === 5)
      e.values = fields(f.bytes!)
        .filter((g) => g.no === 1)
        .map((g) => value(g.bytes!));
    else if (f.no === 7) e.sessionLogStatus = Number(fields(f.bytes!).find((g) => g.no === 1)?.varint ?? 0n);
  }
  return e;
}

/** Scalars by tag: [step, value] in file order. */
export function scalars(events: TbEvent[]): Map<string, [number, number][]> {
  const m = new Map<string, [number, number][]>();
  for (const e of events)
    for (const v of e.values ?? [])
      if (v.simpleValue !== undefined) {
        if (!m.has(v.tag)) m.set(v.tag, []);
        m.get(v.tag)!.push([e.step, v.simpleValue]);
      }
  return m;
}
