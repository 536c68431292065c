/**
 * `convnet export --run R [--checkpoint best|last|FILE] --to FILE`: a run's model as a bare state dict with
 * PyTorch names (no `model.` prefix, no optimiser state), for `load_state_dict(..., strict=True)`:
 * `.safetensors` (safetensors.torch.load_file) or `.pth`/`.pt` (torch.load; a torch.save zip of float32 storages).
 * `.onnx`: the inference graph (see onnx.ts). The format follows the extension of --to; files are written atomically.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { savePth, saveSafetensors } from '@convnet/layers';
import { UsageError } from './errors.js';
import { ENV, type Command, type Parsed } from './flags.js';
import { modelSpec } from '@convnet/alexnet';
import { openRun } from './inference.js';
import { OnnxExportError, saveOnnx } from './onnx.js';
import { inputGeometry } from './train.js';

/** Runs a write of --to; a file-system error (no directory, no permission, a full disk) names --to, not its temp file. */
function writing(to: string, write: () => void): void {
  const dir = dirname(resolve(to));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--to ${to}: ${dir} is not a directory`);
  if (existsSync(to) && !statSync(to).isFile()) throw new UsageError(`--to ${to}: exists and is not a regular file`);
  try {
    write();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) throw new UsageError(`--to ${to}: cannot write (${code})`);
    throw e;
  }
}

const fmt = (a: number[]) => `[${a.map((x) => x.toFixed(4)).join(', ')}]`;

const FORMATS: Record<string, 'safetensors' | 'pth' | 'onnx'> = { '.safetensors': 'safetensors', '.pth': 'pth', '.pt': 'pth', '.onnx': 'onnx' };

async function exportRun(args: Parsed): Promise<number> {
  const v = { checkpoint: 'best', ...args.values } as { run?: string; checkpoint: string; to?: string; softmax?: boolean };
  if (!v.to) throw new UsageError('--to: the file to write is required (model.safetensors, model.pth, model.pt or model.onnx)');
  const ext = extname(v.to).toLowerCase();
  const format = FORMATS[ext];
  if (!format) throw new UsageError(`--to: ${v.to}: unknown extension '${ext}' (expected .safetensors, .pth, .pt or .onnx)`);
  const { ck, cfg, file } = openRun(v.run, v.checkpoint);
  const sd = ck.model;
  if (!sd.size) throw new UsageError(`--checkpoint: ${file} holds no model tensors`);
  const to = resolve(v.to);
  if (v.softmax && format !== 'onnx') throw new UsageError('--softmax: only an ONNX graph can end in a softmax (a state dict has no layers)');
  if (format === 'onnx') {
    const st = ck.state.dataset;
    const shape = st.shape as [number, number, number];
    const crop = inputGeometry(cfg, shape, st.name).crop;
    const spec = modelSpec(cfg.model, { numClasses: st.classes.length, channels: shape[0], imageSize: crop });
    try {
      writing(v.to, () => saveOnnx(to, spec, sd, { softmax: v.softmax }));
    } catch (e) {
      if (e instanceof OnnxExportError) throw new UsageError(`--to ${v.to}: ${e.message}`);
      throw e;
    }
    console.log(`${to}: ONNX opset 13, --model ${cfg.model} from ${file}: input 'input' [batch, ${shape[0]}, ${crop}, ${crop}] (normalised with mean ${fmt(st.mean)}, std ${fmt(st.std)}), output '${v.softmax ? 'probs' : 'logits'}' [batch, ${st.classes.length}]`);
    return 0;
  }
  writing(v.to, () => (format === 'pth' ? savePth(to, sd) : saveSafetensors(to, sd, { format: 'pt', model: cfg.model })));
  const params = [...sd.values()].reduce((a, t) => a + t.size, 0);
  console.log(`${to}: ${sd.size} tensors, ${params.toLocaleString('en-US')} parameters of --model ${cfg.model} from ${file} (PyTorch names, float32)`);
  const load = format === 'pth' ? `torch.load('${v.to}')` : `safetensors.torch.load_file('${v.to}')`;
  console.log(`PyTorch: model.load_state_dict(${load}, strict=True)${cfg.model === 'torchvision' ? ' with model = torchvision.models.alexnet(num_classes=' + sd.get('classifier.6.weight')?.shape[0] + ')' : ''}`);
  return 0;
}

export const exportCommand: Command = {
  name: 'export',
  summary: "a run's weights as a PyTorch state dict (.safetensors or .pth) or an ONNX graph",
  usage: 'convnet export --run DIR [--checkpoint best|last|FILE] --to model.safetensors|model.pth|model.onnx',
  description: 'The file holds the bare state dict with PyTorch names (features.0.weight, ...): no model. prefix, no optimiser state.',
  flags: [
    { name: 'run', type: 'string', value: 'DIR', help: 'the run directory `convnet train` printed' },
    { name: 'checkpoint', type: 'string', value: 'best|last|FILE', default: 'best', help: "the run's best or last checkpoint, or a checkpoint file" },
    { name: 'to', type: 'string', value: 'FILE', help: 'the file to write: .safetensors, .pth, .pt (state dicts) or .onnx (the inference graph, opset 13)' },
    { name: 'softmax', type: 'boolean', help: "ONNX only: end the graph in a softmax (output 'probs' instead of 'logits')" },
  ],
  env: [ENV.CONVNET_NUM_THREADS],
  run: exportRun,
};
