// `convnet export` in PyTorch: export writes a run's bare state dict with savePth / saveSafetensors (finetune.test.ts
// checks it holds the checkpoint's tensors bit for bit). Here those writers' bytes for a small net (the trainer's
// `small` model at 3×8×8, 4 classes, weights from the fixture hash) are the committed files that
// test/pytorch/make_export_fixture.py loads into the same net defined in PyTorch 1.13 with
// load_state_dict(strict=True); PyTorch's logits on a hash-filled batch equal ours to 1e-5.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '@convnet/tensor';
import { serializePth, saveSafetensors } from '@convnet/layers';
import { createModel } from '@convnet/alexnet';
import { fillFixtureHash as fill } from '../../../test/helpers/fixture-hash.js';

const dir = new URL('../../../test/fixtures/export/', import.meta.url).pathname;
interface Loaded { strict_load: string; keys: string[]; logits: number[]; shape: number[] }
const fx: { torch: string; pth: Loaded; safetensors: Loaded } = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));

/** The net and input both sides build (make_export_fixture.py: the same hash, tensor by tensor). */
function smallNet() {
  const net = createModel('small', { channels: 3, imageSize: 8, numClasses: 4 });
  net.namedParameters().forEach(([n, p], k) => fill(p.value, k, n.endsWith('weight') ? 0.3 : 0.1));
  net.eval();
  const x = Tensor.zeros([2, 3, 8, 8]);
  fill(x, 1000, 1);
  return { net, x };
}

const concat = (parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));

describe(`export's files in PyTorch ${fx.torch}`, () => {
  const { net, x } = smallNet();
  const logits = Array.from(net.forward(x).data);
  const scale = Math.max(...logits.map(Math.abs));

  it('our .pth bytes are the committed file, which PyTorch loads strictly and runs to our logits within 1e-5', () => {
    expect(Buffer.compare(concat(serializePth(net.stateDict())), readFileSync(join(dir, 'small.pth')))).toBe(0);
    expect(fx.pth.strict_load).toBe('<All keys matched successfully>');
    expect(fx.pth.keys).toEqual([...net.stateDict().keys()]);
    expect(fx.pth.shape).toEqual([2, 4]);
    expect(scale).toBeGreaterThan(0.1);
    fx.pth.logits.forEach((v, i) => expect(Math.abs(logits[i] - v), `logit ${i}`).toBeLessThan(1e-5 * Math.max(1, scale)));
  });

  it('our .safetensors bytes are the committed file, which PyTorch loads strictly and runs to our logits within 1e-5', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'convnet-export-'));
    try {
      saveSafetensors(join(tmp, 'small.safetensors'), net.stateDict());
      expect(Buffer.compare(readFileSync(join(tmp, 'small.safetensors')), readFileSync(join(dir, 'small.safetensors')))).toBe(0);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    expect(fx.safetensors.strict_load).toBe('<All keys matched successfully>');
    fx.safetensors.logits.forEach((v, i) => expect(Math.abs(logits[i] - v), `logit ${i}`).toBeLessThan(1e-5 * Math.max(1, scale)));
  });
});
