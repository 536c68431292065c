/**
 * `--weights FILE`: a state dict with PyTorch names from a safetensors file, a PyTorch .pth/.pt (torch.save,
 * zip or legacy; the format is told by content) or one of our checkpoints (its `model.` prefix is dropped), for
 * predict, eval and train. Mismatches are one line naming the file, the key and both shapes.
 */
import type { Tensor } from '@convnet/tensor';
import { loadStateDictFile, type Module, type Parameter } from '@convnet/layers';
import { ILSVRC2012_SHORT_NAMES } from '@convnet/imagenet';
import { MODELS, modelSpec, summarize, type ModelSpec } from '@convnet/alexnet';
import { UsageError } from './errors.js';

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

const shapeOf = (t: { shape: readonly number[] }) => `[${t.shape.join(',')}]`;

/** Reads FILE's state dict; a checkpoint's `model.` and DataParallel's `module.` prefixes are removed. */
export function readWeights(file: string, flag = '--weights'): { stateDict: Map<string, Tensor>; format: string } {
  let r: ReturnType<typeof loadStateDictFile>;
  try {
    r = loadStateDictFile(file);
  } catch (e) {
    throw new UsageError(`${flag}: ${(e as Error).message}`);
  }
  // a weight or bias stored as integers is not a float tensor of the same size (an F32 entry relabelled I32 would
  // be read as other numbers): refused, naming the tensor
  const ints = [...r.dtypes].filter(([k, d]) => /\.(weight|bias|running_mean|running_var)$/.test(k) && !FLOAT_DTYPES.has(d));
  if (ints.length)
    throw new UsageError(`${flag}: ${file}: '${ints[0][0]}' is stored as ${ints[0][1]}; weights are floating point (F32, F16, BF16 or F64)${ints.length > 1 ? ` (and ${ints.length - 1} more)` : ''}`);
  let sd = r.stateDict;
  let format: string = r.format;
  if (r.metadata.format === 'convnet-checkpoint') {
    sd = new Map([...sd].filter(([k]) => k.startsWith('model.')).map(([k, v]) => [k.slice(6), v]));
    format = 'convnet checkpoint';
  }
  for (const prefix of ['model.', 'module.'])
    if (sd.size && [...sd.keys()].every((k) => k.startsWith(prefix))) sd = new Map([...sd].map(([k, v]) => [k.slice(prefix.length), v]));
  if (!sd.size) throw new UsageError(`${flag}: ${file} holds no tensors`);
  return { stateDict: sd, format };
}

/** The last layer's parameter names (the classifier head), e.g. classifier.6.weight / classifier.6.bias. */
export function headOf(net: Module): { layer: string; names: string[] } {
  const names = net.namedParameters().map(([n]) => n);
  const last = names.at(-1)!;
  const layer = last.slice(0, last.lastIndexOf('.'));
  return { layer, names: names.filter((n) => n.slice(0, n.lastIndexOf('.')) === layer) };
}

/**
 * Copies `sd` into `net`. Every parameter must be present with its shape, and no extra tensors (PyTorch's
 * strict loading). With `newHead`, a last layer whose output count differs (fine-tuning on another class
 * count) keeps its fresh initialisation and `log` says so. Returns the re-initialised layer's name, if any.
 */
export function loadWeights(net: Module, sd: Map<string, Tensor>, file: string, o: { model: string; newHead?: boolean; log?: (l: string) => void; flag?: string }): string | null {
  const own = new Map(net.namedParameters());
  const skip = checkWeights(new Map([...own].map(([k, p]) => [k, p.value.shape])), sd, file, o);
  for (const [k, p] of own) if (!skip.includes(k)) p.value.data.set(sd.get(k)!.data);
  return skip.length ? skip[0].slice(0, skip[0].lastIndexOf('.')) : null;
}

/** Parameter names and shapes of a spec's net, without building it (as summarize walks the layers). */
export function specParamShapes(spec: ModelSpec): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const all = [...spec.features, ...(spec.avgpool ? [spec.avgpool] : []), ...spec.classifier];
  let prev = [...spec.input];
  summarize(spec).layers.forEach((l, i) => {
    const ls = all[i];
    if (ls.type === 'conv') {
      out.set(`${l.name}.weight`, [ls.out, prev[0] / (ls.groups ?? 1), ls.kernel, ls.kernel]);
      if (ls.bias !== false) out.set(`${l.name}.bias`, [ls.out]);
    } else if (ls.type === 'linear') {
      out.set(`${l.name}.weight`, [ls.out, prev.reduce((a, b) => a * b, 1)]);
      out.set(`${l.name}.bias`, [ls.out]);
    }
    prev = l.output;
  });
  return out;
}

/**
 * Checks `sd` against parameter shapes `own` (see loadWeights); returns the head's names to skip when `newHead`
 * lets a different class count through.
 */
export function checkWeights(own: Map<string, readonly number[]>, sd: Map<string, Tensor>, file: string, o: { model: string; newHead?: boolean; log?: (l: string) => void; flag?: string }): string[] {
  const flag = o.flag ?? '--weights';
  const lastName = [...own.keys()].at(-1)!;
  const layer = lastName.slice(0, lastName.lastIndexOf('.'));
  let skip: string[] = [];
  if (o.newHead) {
    const w = sd.get(`${layer}.weight`), mine = own.get(`${layer}.weight`);
    if (w && mine && w.shape.length === mine.length && w.shape[0] !== mine[0] && w.shape.slice(1).every((d, i) => d === mine[i + 1])) {
      skip = [...own.keys()].filter((n) => n.slice(0, n.lastIndexOf('.')) === layer);
      o.log?.(`${flag}: re-initialising ${layer} (the file's has ${w.shape[0]} outputs, this data has ${mine[0]} classes)`);
    }
  }
  const problems: string[] = [];
  for (const [k, shape] of own) {
    if (skip.includes(k)) continue;
    const t = sd.get(k);
    if (!t) problems.push(`no '${k}' (${shapeOf({ shape })})`);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      problems.push(`'${k}' is ${shapeOf(t)}, --model ${o.model} needs ${shapeOf({ shape })}`);
  }
  const extra = [...sd.keys()].filter((k) => !own.has(k));
  if (extra.length) problems.push(`unexpected '${extra[0]}'${extra.length > 1 ? ` and ${extra.length - 1} more` : ''}`);
  if (problems.length) {
    const fit = problems.length > 1 ? modelsFitting(sd).filter((m) => m !== o.model) : [];
    const hint = fit.length ? ` (the file fits --model ${fit.join(' or --model ')})` : '';
    throw new UsageError(`${flag}: ${file}: ${problems[0]}${problems.length > 1 ? `; ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''}` : ''}${hint}`);
  }
  return skip;
}

/** The known models whose convolution and linear weights all have the shapes `sd` holds (any class count). */
export function modelsFitting(sd: Map<string, Tensor>): string[] {
  const out: string[] = [];
  for (const name of Object.keys(MODELS)) {
    try {
      const spec = modelSpec(name);
      const nc = sd.get(`classifier.${spec.classifier.length - 1}.weight`)?.shape[0];
      if (!nc) continue;
      const shapes = specParamShapes(modelSpec(name, { numClasses: nc }));
      if ([...shapes].every(([k, sh]) => { const t = sd.get(k); return t && t.shape.length === sh.length && t.shape.every((d, i) => d === sh[i]); }))
        out.push(name);
    } catch {
      // a model that needs options this check does not give
    }
  }
  return out;
}

/** Class names for a net with `n` outputs and no run: ImageNet's 1000 (torchvision's order), else class0.. */
export function defaultClassNames(n: number): string[] {
  if (n === 1000) return [...ILSVRC2012_SHORT_NAMES];
  return Array.from({ length: n }, (_, i) => `class ${i}`);
}

/** `train --weights`: copies the file into a fresh net; a head of another class count keeps its initialisation. */
export function initialiseFromWeights(net: Module, cfg: { weights: string; model: string }, log: (l: string) => void): void {
  const { stateDict, format } = readWeights(cfg.weights);
  const reinit = loadWeights(net, stateDict, cfg.weights, { model: cfg.model, newHead: true, log });
  log(`--weights: initialised from ${cfg.weights} (${format})${reinit ? `, all but ${reinit}` : ''}`);
}

/** The parameters the optimiser updates: all, or (--freeze features) all but the `features.*` ones. */
export function trainableParameters(net: Module, freeze: 'none' | 'features', log: (l: string) => void): [string, Parameter][] {
  const all = net.namedParameters();
  if (freeze === 'none') return all;
  const frozen = all.filter(([n]) => n.startsWith('features.'));
  if (!frozen.length) throw new UsageError('--freeze features: this model has no features.* parameters');
  const n = frozen.reduce((a, [, p]) => a + p.value.size, 0);
  log(`--freeze features: ${frozen.length} tensors (${n.toLocaleString('en-US')} parameters) stay fixed; training ${all.length - frozen.length}`);
  return all.filter(([k]) => !k.startsWith('features.'));
}
