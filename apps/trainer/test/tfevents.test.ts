// TensorBoard event files of real runs, read back with an independent reader (test/tfreader.ts: framing, CRC-32C
// bit by bit, event.proto decoded by hand): records and CRCs, tags, steps and values against metrics.jsonl, the
// config text, the conv1 images; a file cut mid-record; --tensorboard DIR and off; a resumed run after a torn write.
import { existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { crc32c, EventFileWriter, frameRecord, maskedCrc } from '../src/tfevents.js';
import { crc32cBitwise, decodeEvent, readRecords, scalars, unmask, type TbEvent } from './tfreader.js';
import { metrics, runCli, tempRoot } from './helpers.js';

const root = tempRoot('tfevents');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TINY = [
  '--data',
  'synthetic',
  '--model',
  'small',
  '--limit-train',
  '256',
  '--limit-test',
  '64',
  '--batch-size',
  '32',
  '--log-every',
  '2',
];
const eventFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.startsWith('events.out.tfevents.'))
    .sort()
    .map((f) => join(dir, f));
const readEvents = (file: string): TbEvent[] => {
  const r = readRecords(readFileSync(file));
  expect(r.stop).toBe('end');
  return r.records.map(decodeEvent);
};
const f32 = (x: number) => Math.fround(x);

describe('CRC-32C', () => {
  it('the writer (table) and the reader (bitwise) give the standard check value and agree on random data', () => {
    const check = new TextEncoder().encode('123456789');
    expect(crc32c(check)).toBe(0xe3069283);
    expect(crc32cBitwise(check)).toBe(0xe3069283);
    const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7919 + 13) & 255);
    for (const n of [0, 1, 7, 8, 999, 1000])
      expect(crc32c(data.subarray(0, n))).toBe(crc32cBitwise(data.subarray(0, n)));
    expect(unmask(maskedCrc(data))).toBe(crc32cBitwise(data));
  });
});

describe('event files of a run', () => {
  it('parse with the independent reader: file_version first, scalars as in metrics.jsonl, config, images', async () => {
    const dir = join(root, 'run one ü');
    const r = runCli(['train', ...TINY, '--epochs', '2', '--run', dir, '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    const files = eventFiles(dir);
    expect(files).toHaveLength(1);
    const ev = readEvents(files[0]);
    expect(ev[0].fileVersion).toBe('brain.Event:2');
    expect(ev[0].wallTime).toBeGreaterThan(1.7e9);
    const m = metrics(dir);
    const steps = m.filter((l) => l.type === 'step');
    const epochs = m.filter((l) => l.type === 'epoch');
    expect(steps.map((l) => l.step)).toEqual([2, 4, 6, 8, 10, 12, 14, 16]);
    expect(epochs.map((l) => l.step)).toEqual([8, 16]);
    const s = scalars(ev);
    expect(s.get('step/loss')).toEqual(steps.map((l) => [l.step, f32(l.loss as number)]));
    expect(s.get('step/top1_error')).toEqual(steps.map((l) => [l.step, f32(l.top1Err as number)]));
    expect(s.get('step/lr')).toEqual(steps.map((l) => [l.step, f32(l.lr as number)]));
    expect(s.get('step/images_per_s')).toEqual(steps.map((l) => [l.step, f32(l.imagesPerSec as number)]));
    const pairs: [string, string][] = [
      ['train/loss', 'trainLoss'],
      ['train/top1_error', 'trainTop1Err'],
      ['train/top5_error', 'trainTop5Err'],
      ['val/loss', 'valLoss'],
      ['val/top1_error', 'valTop1Err'],
      ['val/top5_error', 'valTop5Err'],
      ['lr', 'lr'],
      ['images_per_s', 'imagesPerSec'],
      ['data_wait', 'dataWaitShare'],
      ['epoch', 'epoch'],
    ];
    for (const [tag, key] of pairs) expect(s.get(tag), tag).toEqual(epochs.map((l) => [l.step, f32(l[key] as number)]));
    // the configuration as text (an indented block: markdown's code) at step 0, equal to config.json
    const text = ev.flatMap((e) => e.values ?? []).filter((v) => v.tag === 'config');
    expect(text).toHaveLength(1);
    expect(text[0].pluginName).toBe('text');
    expect(text[0].dtype).toBe(7); // DT_STRING
    expect(JSON.parse(text[0].text![0])).toEqual(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
    // one conv1 grid per epoch, at the epoch's step; the PNG decodes to the size the event says
    const images = ev.filter((e) => e.values?.some((v) => v.image));
    expect(images.map((e) => e.step)).toEqual([8, 16]);
    for (const e of images) {
      const im = e.values![0].image!;
      const meta = await sharp(Buffer.from(im.png)).metadata();
      // the synthetic images of the small net are grey: one channel (colorspace 1)
      expect([meta.width, meta.height, meta.format, meta.channels, im.colorspace]).toEqual([
        im.width,
        im.height,
        'png',
        1,
        1,
      ]);
    }
    expect(readdirSync(join(dir, 'filters')).sort()).toEqual(['conv1-epoch-001.png', 'conv1-epoch-002.png']);
    expect(JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')).state).toBe('finished');
  });

  it('a file cut anywhere in its last record reads as the records before it; a flipped byte fails its CRC', () => {
    const file = join(root, 'cut.tfevents');
    const w = new EventFileWriter(join(root, 'cutdir'));
    w.summary(1, [{ tag: 'a', scalar: 0.5 }]);
    w.summary(2, [
      { tag: 'a', scalar: 0.25 },
      { tag: 'b', scalar: 3 },
    ]);
    w.close();
    const whole = readFileSync(w.path);
    const last = frameRecord(new Uint8Array(0)).length; // 16 bytes of framing
    const full = readRecords(whole);
    expect(full.records.map(decodeEvent).map((e) => e.step)).toEqual([0, 1, 2]);
    const lastStart = whole.length - (full.records[2].length + last);
    for (let cut = lastStart + 1; cut < whole.length; cut++) {
      writeFileSync(file, whole.subarray(0, cut));
      const r = readRecords(readFileSync(file));
      expect(r.stop, `cut at ${cut}`).toBe('truncated');
      expect(r.records.map(decodeEvent).map((e) => e.step)).toEqual([0, 1]);
      expect(r.tailBytes).toBe(cut - lastStart);
    }
    const bad = Buffer.from(whole);
    bad[lastStart + 14] ^= 1;
    expect(readRecords(bad).stop).toBe('data crc');
    const badLen = Buffer.from(whole);
    badLen[lastStart + 1] ^= 1;
    expect(readRecords(badLen).stop).toBe('length crc');
  });

  it('resumed after a torn write: the torn tail cut off, SessionLog START at the resumed step, more steps', () => {
    const dir = join(root, 'resumed');
    const a = runCli(['train', ...TINY, '--epochs', '2', '--max-steps', '12', '--run', dir, '--quiet']);
    expect(a.status, a.stderr).toBe(0);
    const [first] = eventFiles(dir);
    const size = statSync(first).size;
    truncateSync(first, size - 5); // as if killed in the middle of the last append
    expect(readRecords(readFileSync(first)).stop).toBe('truncated');
    expect(JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8'))).toMatchObject({
      state: 'stopped',
      reason: 'max-steps',
    });
    const b = runCli(['train', '--resume', dir, '--quiet']);
    expect(b.status, b.stderr).toBe(0);
    const files = eventFiles(dir);
    expect(files).toHaveLength(2);
    const old = readEvents(files.find((f) => f === first)!); // cut back to whole records
    const fresh = readEvents(files.find((f) => f !== first)!);
    expect(old.at(-1)!.step).toBeLessThanOrEqual(12);
    expect(fresh[0].fileVersion).toBe('brain.Event:2');
    expect(fresh[1]).toMatchObject({ step: 12, sessionLogStatus: 1 });
    expect(
      scalars(fresh)
        .get('step/loss')!
        .map(([st]) => st),
    ).toEqual([14, 16]);
    expect(
      scalars(fresh)
        .get('val/top1_error')!
        .map(([st]) => st),
    ).toEqual([16]);
  });

  it('a run that diverges: status.json says failed and why, its event file still parses whole', () => {
    const dir = join(root, 'diverged');
    const r = runCli(['train', ...TINY, '--epochs', '1', '--lr', '1e12', '--run', dir, '--quiet']);
    expect(r.status).toBe(1);
    const st = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8'));
    expect(st.state).toBe('failed');
    expect(st.error).toMatch(/^the loss became NaN at epoch 1, step 1/);
    const ev = readEvents(eventFiles(dir)[0]);
    expect(ev[0].fileVersion).toBe('brain.Event:2');
    expect(ev.flatMap((e) => e.values ?? []).map((v) => v.tag)).toEqual(['config']);
  });

  it('--tensorboard DIR writes DIR/<run name> (kept by a resume); --tensorboard off writes none', () => {
    const tb = join(root, 'tb');
    const a = runCli([
      'train',
      ...TINY,
      '--epochs',
      '1',
      '--run',
      join(root, 'elsewhere'),
      '--tensorboard',
      tb,
      '--quiet',
    ]);
    expect(a.status, a.stderr).toBe(0);
    expect(eventFiles(join(root, 'elsewhere'))).toEqual([]);
    expect(scalars(readEvents(eventFiles(join(tb, 'elsewhere'))[0])).get('val/loss')).toHaveLength(1);
    // a resume without the flag keeps the run's choice
    const again = runCli(['train', '--resume', join(root, 'elsewhere'), '--epochs', '2', '--quiet']);
    expect(again.status, again.stderr).toBe(0);
    expect(eventFiles(join(root, 'elsewhere'))).toEqual([]);
    const files = eventFiles(join(tb, 'elsewhere'));
    expect(files).toHaveLength(2);
    const epochsPerFile = files.map((f) => scalars(readEvents(f)).get('epoch')!.map(([, e]) => e));
    expect(epochsPerFile.sort((x, y) => x[0] - y[0])).toEqual([[1], [2]]);
    const b = runCli([
      'train',
      ...TINY,
      '--epochs',
      '1',
      '--run',
      join(root, 'none'),
      '--tensorboard',
      'off',
      '--quiet',
    ]);
    expect(b.status, b.stderr).toBe(0);
    expect(eventFiles(join(root, 'none'))).toEqual([]);
    expect(existsSync(join(root, 'none', 'metrics.jsonl'))).toBe(true);
    const c = runCli(['train', ...TINY, '--run', join(root, 'x'), '--tensorboard', ' ']);
    expect([c.status, c.stderr.trim()]).toEqual([
      2,
      "convnet train: --tensorboard: expected a directory or 'off', got an empty value",
    ]);
  });
});
