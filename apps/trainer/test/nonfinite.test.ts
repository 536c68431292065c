// Scores that cannot lie: a checkpoint whose weights are NaN scores every image as a miss in eval (1 and 10 views,
// --weights on a folder) and predict, says how many images had non-finite outputs, and exits 2 when all did.
// Files that are not what they claim (FIFOs, checkpoints of another model, relabelled dtypes): one line, exit 2.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idx, runCli, tempRoot } from './helpers.js';

const root = tempRoot('nonfinite');
const runDir = join(root, 'run');
const nanFile = join(root, 'nan.safetensors');
const run = (a: string[]) => runCli(a, { threads: 2, timeout: 120_000 });

/** A copy of a safetensors file with every float32 element replaced by NaN (header and metadata kept). */
function nanCopy(src: string, dst: string): void {
  const buf = Buffer.from(readFileSync(src));
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__' || e.dtype !== 'F32') continue;
    for (let o = 8 + n + e.data_offsets[0]; o < 8 + n + e.data_offsets[1]; o += 4) buf.writeFloatLE(NaN, o);
  }
  writeFileSync(dst, buf);
}

/** Rewrites a safetensors file's header with `edit` (data offsets are relative to the data, so they stay valid). */
function editHeader(src: string, dst: string, edit: (h: Record<string, any>) => void): void {
  const buf = readFileSync(src);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  edit(header);
  const text = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(text.length));
  writeFileSync(dst, Buffer.concat([len, text, buf.subarray(8 + n)]));
}

/** The same, for the training state JSON in its metadata. */
const editState = (src: string, dst: string, edit: (st: Record<string, any>) => void) => editHeader(src, dst, (h) => {
  const st = JSON.parse(h.__metadata__.state);
  edit(st);
  h.__metadata__.state = JSON.stringify(st);
});

function oneLine(r: ReturnType<typeof run>, re: RegExp): void {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(re);
  expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
}

beforeAll(async () => {
  // 32×32 RGB IDX images (class i % 4: grey level 60·class), so the same weights serve --weights with torchvision
  const data = join(root, 'data');
  mkdirSync(data, { recursive: true });
  for (const [prefix, n] of [['train', 64], ['t10k', 16]] as const) {
    writeFileSync(join(data, `${prefix}-images-idx3-ubyte`), idx([n, 32, 32, 3], Uint8Array.from({ length: n * 3072 }, (_, i) => 60 * (Math.floor(i / 3072) % 4) + (i % 7))));
    writeFileSync(join(data, `${prefix}-labels-idx1-ubyte`), idx([n], Uint8Array.from({ length: n }, (_, i) => i % 4)));
  }
  const t = run(['train', '--data', data, '--model', 'cifar-80sec', '--batch-size', '16', '--max-steps', '1', '--run', runDir]);
  expect(t.status, t.stderr).toBe(0);
  nanCopy(join(runDir, 'checkpoints', 'last.safetensors'), nanFile);
  // class folders of 28×28 grey PNGs for --weights (4 classes, one image each)
  for (let c = 0; c < 4; c++) {
    mkdirSync(join(root, 'folders', `c${c}`), { recursive: true });
    await sharp(Buffer.alloc(3072, 60 * c), { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(join(root, 'folders', `c${c}`, 'a.png'));
  }
}, 180_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('non-finite outputs', () => {
  it('eval of a NaN checkpoint (1 and 10 views) scores 100% error, counts the images and exits 2', () => {
    for (const views of ['1', '10']) {
      const r = run(['eval', '--run', runDir, '--checkpoint', nanFile, '--views', views]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stdout).toMatch(/top-1 error 100\.00%, top-5 error 100\.00% \(accuracy 0\.00%\), cross-entropy n\/a; 16 of 16 images had non-finite outputs/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/nan\.safetensors: every one of the 16 images got non-finite outputs/);
    }
    // the finite checkpoint of the same run still scores and exits 0
    const ok = run(['eval', '--run', runDir, '--checkpoint', 'last']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).not.toMatch(/non-finite/);
  }, 120_000);

  it('eval --weights of NaN weights on class folders, and predict, never show a score', async () => {
    const r = run(['eval', '--weights', nanFile, '--model', 'cifar-80sec', '--data', join(root, 'folders')]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stdout).toMatch(/4 images, 1 view: top-1 error 100\.00%.*4 of 4 images had non-finite outputs/);
    const rr = run(['eval', '--run', runDir, '--checkpoint', 'last', '--weights', nanFile]);
    expect(rr.status, rr.stderr).toBe(2);
    expect(rr.stdout, rr.stderr).toMatch(/16 of 16 images had non-finite outputs/);
    const png = join(root, 'folders', 'c1', 'a.png');
    const p = run(['predict', '--run', runDir, '--checkpoint', nanFile, png, png]);
    expect(p.status, p.stderr).toBe(2);
    expect(p.stdout).not.toMatch(/NaN%/);
    expect(p.stdout).toMatch(/no prediction: the model's outputs are not finite/);
    expect(p.stderr).toMatch(/2 of 2 images got non-finite outputs/);
    const good = run(['predict', '--run', runDir, '--checkpoint', 'last', png]);
    expect(good.status, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/^\s+\d+\.\d+%\s+\d$/m);
    expect(good.stdout).not.toMatch(/no prediction/);
  }, 120_000);
});

describe('files that are not what they claim', () => {
  const last = () => join(runDir, 'checkpoints', 'last.safetensors');

  it('a FIFO as the image, the checkpoint or the weights is refused at once (it blocked forever)', () => {
    const fifo = join(root, 'fifo');
    execFileSync('mkfifo', [fifo]);
    oneLine(run(['predict', '--run', runDir, '--checkpoint', 'last', fifo]), /fifo: not a regular file/);
    oneLine(run(['eval', '--run', runDir, '--checkpoint', fifo]), /--checkpoint: .*fifo is not a regular file/);
    oneLine(run(['predict', '--weights', fifo, '--model', 'cifar-80sec', fifo]), /--weights: .*fifo: not a regular file/);
  }, 60_000);

  it('a checkpoint for another model, or naming an unknown model, or with an absurd image shape: its file named', () => {
    const other = join(root, 'other.safetensors');
    editState(last(), other, (st) => { st.config.model = 'small'; });
    oneLine(run(['eval', '--run', runDir, '--checkpoint', other]), /--checkpoint: .*other\.safetensors does not fit the model it names \(--model small\)/);
    const unknown = join(root, 'unknown.safetensors');
    editState(last(), unknown, (st) => { st.config.model = 'nosuch'; });
    oneLine(run(['predict', '--run', runDir, '--checkpoint', unknown, join(root, 'folders', 'c1', 'a.png')]), /unknown\.safetensors: .*'model'|unknown\.safetensors: its training state names the model 'nosuch'/);
    const huge = join(root, 'huge.safetensors');
    editState(last(), huge, (st) => { st.dataset.shape = [3, 100000, 100000]; });
    oneLine(run(['predict', '--run', runDir, '--checkpoint', huge, join(root, 'folders', 'c1', 'a.png')]), /huge\.safetensors: training state 'dataset\.shape' must be \[channels ≤ 4, height ≤ 4096, width ≤ 4096\]/);
  }, 60_000);

  it('weights of another model: the hint names the model they fit, not a guess', () => {
    oneLine(run(['predict', '--weights', last(), join(root, 'folders', 'c1', 'a.png')]), /more problems \(the file fits --model cifar-80sec\)$/m);
  }, 60_000);

  it('a weight relabelled from F32 to I32 (same size) is refused, not reinterpreted', () => {
    const relabelled = join(root, 'i32.safetensors');
    editHeader(last(), relabelled, (h) => { h['model.features.0.weight'].dtype = 'I32'; });
    oneLine(run(['predict', '--weights', relabelled, '--model', 'cifar-80sec', join(root, 'folders', 'c1', 'a.png')]),
      /--weights: .*i32\.safetensors: 'model\.features\.0\.weight' is stored as I32; weights are floating point/);
  }, 60_000);
});

describe('a non-finite test loss never makes best.safetensors', () => {
  it('running means set to NaN: training (batch statistics) stays finite, the test pass is NaN, best is not written', () => {
    const dir = join(root, 'nan-stats');
    const first = run(['train', '--data', 'synthetic', '--model', 'small-bn', '--epochs', '1', '--limit-train', '64',
      '--limit-test', '32', '--batch-size', '16', '--max-steps', '1', '--run', dir]);
    expect(first.status, first.stderr).toBe(0);
    // every running_mean of the checkpoint becomes NaN: eval-mode batch norm uses them, training does not
    const ck = join(dir, 'checkpoints', 'last.safetensors');
    const buf = Buffer.from(readFileSync(ck));
    const n = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
    let patched = 0;
    for (const [name, t] of Object.entries(header)) {
      if (!name.endsWith('running_mean')) continue;
      for (let o = 8 + n + t.data_offsets[0]; o < 8 + n + t.data_offsets[1]; o += 4) buf.writeFloatLE(NaN, o);
      patched++;
    }
    expect(patched).toBe(3);
    writeFileSync(ck, buf);
    const r = run(['train', '--resume', dir]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/train loss \d+\.\d+, val loss NaN/);
    expect(r.stdout + r.stderr).toContain('epoch 1: the test loss is NaN: best.safetensors is not replaced');
    expect(existsSync(join(dir, 'checkpoints', 'best.safetensors'))).toBe(false);
  }, 120_000);
});
