/**
 * ONNX export of a model spec + state dict (the inference graph): Conv (with group), Relu, LRN, MaxPool,
 * AveragePool, Flatten, Gemm, optional Softmax; Dropout is absent (identity at inference). Opset 13, IR version 7.
 *
 * Written by a small protobuf encoder (the handful of ModelProto fields a graph needs) rather than an npm
 * package: the `onnx-proto`/`protobufjs` route pulls a code generator and 1 MB of runtime for what is ~80 lines
 * of varints and length-delimited fields, and the output is checked by onnxruntime-node in the tests.
 *
 * LRN: ONNX computes x / (bias + alpha/size · Σ x²)^beta (PyTorch's convention). Our `alphaMode: 'paper'` applies
 * α to the sum as printed, so it is written as alpha = α · size; 'divide-by-size' is written as is.
 */
import type { Tensor } from '@convnet/tensor';
import type { LayerSpec, ModelSpec } from '@convnet/alexnet';
import { writeFileAtomic } from '@convnet/tensor';

// ------------------------------------------------------------------------------------------- protobuf

class Pb {
  private chunks: Uint8Array[] = [];
  private cur: number[] = [];
  private flush() { if (this.cur.length) { this.chunks.push(Uint8Array.from(this.cur)); this.cur = []; } }
  varint(v: number | bigint) {
    let x = BigInt.asUintN(64, BigInt(v));
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x) b |= 0x80;
      this.cur.push(b);
    } while (x);
    return this;
  }
  key(field: number, wire: number) { return this.varint((field << 3) | wire); }
  int(field: number, v: number | bigint) { return this.key(field, 0).varint(v); }
  float(field: number, v: number) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.key(field, 5);
    this.cur.push(...b);
    return this;
  }
  bytes(field: number, b: Uint8Array) {
    this.key(field, 2).varint(b.length);
    this.flush();
    this.chunks.push(b);
    return this;
  }
  str(field: number, s: string) { return this.bytes(field, Buffer.from(s, 'utf8')); }
  msg(field: number, m: Pb) { return this.bytes(field, m.finish()); }
  finish(): Uint8Array {
    this.flush();
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
  }
}

const FLOAT = 1;

type Attr = { name: string; i?: number; ints?: number[]; f?: number };
function attribute(a: Attr): Pb {
  const p = new Pb().str(1, a.name);
  if (a.f !== undefined) p.float(2, a.f).int(20, 1);
  else if (a.i !== undefined) p.int(3, a.i).int(20, 2);
  else { for (const v of a.ints!) p.int(8, v); p.int(20, 7); }
  return p;
}
function node(op: string, inputs: string[], outputs: string[], name: string, attrs: Attr[] = []): Pb {
  const p = new Pb();
  for (const i of inputs) p.str(1, i);
  for (const o of outputs) p.str(2, o);
  p.str(3, name).str(4, op);
  for (const a of attrs) p.msg(5, attribute(a));
  return p;
}
function initializer(name: string, t: Tensor): Pb {
  const p = new Pb();
  for (const d of t.shape) p.int(1, d);
  p.int(2, FLOAT).str(8, name);
  const d = t.data;
  return p.bytes(9, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
}
function valueInfo(name: string, dims: (number | string)[]): Pb {
  const shape = new Pb();
  for (const d of dims) shape.msg(1, typeof d === 'number' ? new Pb().int(1, d) : new Pb().str(2, d));
  return new Pb().str(1, name).msg(2, new Pb().msg(1, new Pb().int(1, FLOAT).msg(2, shape)));
}

// ---------------------------------------------------------------------------------------------- graph

export class OnnxExportError extends Error {}

/**
 * The ONNX model of `spec` with weights `sd` (PyTorch names: features.N.weight, ...). Input 'input'
 * [batch, c, h, w]; output 'logits' [batch, classes], or 'probs' with `softmax`.
 */
export function onnxModel(spec: ModelSpec, sd: Map<string, Tensor>, o: { softmax?: boolean; producer?: string } = {}): Uint8Array {
  const graph = new Pb();
  const nodes: Pb[] = [], inits: Pb[] = [];
  let cur = 'input';
  let shape = [...spec.input];
  let n = 0;
  const weight = (name: string) => {
    const t = sd.get(name);
    if (!t) throw new OnnxExportError(`the state dict has no '${name}'`);
    inits.push(initializer(name, t));
    return name;
  };
  const out = (prefix: string) => `${prefix}_out${n++}`;
  const visit = (stage: string, i: number | null, l: LayerSpec) => {
    const name = i === null ? stage : `${stage}.${i}`;
    const [c, h, w] = shape;
    switch (l.type) {
      case 'conv': {
        const s = l.stride ?? 1, p = l.padding ?? 0;
        if ((l.sizeRule ?? 'floor') !== 'floor') throw new OnnxExportError(`${name}: a convolution with the ceil size rule has no ONNX Conv equivalent`);
        const y = out(name);
        nodes.push(node('Conv', [cur, weight(`${name}.weight`), ...(l.bias === false ? [] : [weight(`${name}.bias`)])], [y], name, [
          { name: 'kernel_shape', ints: [l.kernel, l.kernel] }, { name: 'strides', ints: [s, s] }, { name: 'pads', ints: [p, p, p, p] },
          { name: 'group', i: l.groups ?? 1 }, { name: 'dilations', ints: [1, 1] },
        ]));
        shape = [l.out, Math.floor((h + 2 * p - l.kernel) / s) + 1, Math.floor((w + 2 * p - l.kernel) / s) + 1];
        cur = y;
        break;
      }
      case 'relu': { const y = out(name); nodes.push(node('Relu', [cur], [y], name)); cur = y; break; }
      case 'lrn': {
        if (l.size % 2 === 0) throw new OnnxExportError(`${name}: LRN with an even size (${l.size}) centres its window differently in ONNX`);
        const alpha = l.alphaMode === 'paper' ? l.alpha * l.size : l.alpha;
        const y = out(name);
        nodes.push(node('LRN', [cur], [y], name, [{ name: 'size', i: l.size }, { name: 'alpha', f: alpha }, { name: 'beta', f: l.beta }, { name: 'bias', f: l.k }]));
        cur = y;
        break;
      }
      case 'maxpool': case 'avgpool': {
        const p = l.padding ?? 0, ceil = (l.sizeRule ?? 'floor') === 'ceil';
        if (l.type === 'avgpool' && (p || ceil)) throw new OnnxExportError(`${name}: average pooling with padding or the ceil rule is not exported`);
        const y = out(name);
        nodes.push(node(l.type === 'maxpool' ? 'MaxPool' : 'AveragePool', [cur], [y], name, [
          { name: 'kernel_shape', ints: [l.kernel, l.kernel] }, { name: 'strides', ints: [l.stride, l.stride] }, { name: 'pads', ints: [p, p, p, p] },
          { name: 'ceil_mode', i: ceil ? 1 : 0 },
        ]));
        const size = (x: number) => { const v = (x + 2 * p - l.kernel) / l.stride; let o = (ceil ? Math.ceil(v) : Math.floor(v)) + 1; if (ceil && (o - 1) * l.stride >= x + p) o--; return o; };
        shape = [c, size(h), size(w)];
        cur = y;
        break;
      }
      case 'adaptiveavg': {
        if (h === l.size && w === l.size) break; // identity (torchvision's AlexNet at 224×224)
        if (h % l.size || w % l.size) throw new OnnxExportError(`${name}: adaptive average pooling from ${h}×${w} to ${l.size}×${l.size} is not a fixed window`);
        const y = out(name);
        nodes.push(node('AveragePool', [cur], [y], name, [{ name: 'kernel_shape', ints: [h / l.size, w / l.size] }, { name: 'strides', ints: [h / l.size, w / l.size] }]));
        shape = [c, l.size, l.size];
        cur = y;
        break;
      }
      case 'module': {
        // plugin layers: BatchNorm2d (@convnet/kernels-batchnorm) is ONNX's BatchNormalization in inference mode
        if (l.kind !== 'batchnorm2d') throw new OnnxExportError(`${name}: the layer '${l.kind}' has no ONNX export`);
        const y = out(name);
        nodes.push(node('BatchNormalization', [cur, weight(`${name}.weight`), weight(`${name}.bias`), weight(`${name}.running_mean`), weight(`${name}.running_var`)], [y], name,
          [{ name: 'epsilon', f: l.attrs?.eps ?? 1e-5 }]));
        cur = y;
        break;
      }
      case 'dropout': break; // identity at inference
      case 'flatten': break; // the graph flattens before the classifier
      case 'linear': {
        if (shape.length > 1) {
          const f = out('flatten');
          nodes.push(node('Flatten', [cur], [f], `flatten_${n}`, [{ name: 'axis', i: 1 }]));
          cur = f;
          shape = [shape.reduce((a, b) => a * b, 1)];
        }
        const y = out(name);
        nodes.push(node('Gemm', [cur, weight(`${name}.weight`), weight(`${name}.bias`)], [y], name, [{ name: 'transB', i: 1 }]));
        shape = [l.out];
        cur = y;
        break;
      }
    }
  };
  spec.features.forEach((l, i) => visit('features', i, l));
  if (spec.avgpool) visit('avgpool', null, spec.avgpool);
  spec.classifier.forEach((l, i) => visit('classifier', i, l));
  const final = o.softmax ? 'probs' : 'logits';
  if (o.softmax) nodes.push(node('Softmax', [cur], [final], 'softmax', [{ name: 'axis', i: 1 }]));
  else nodes.push(node('Identity', [cur], [final], 'output'));
  for (const x of nodes) graph.msg(1, x);
  graph.str(2, spec.name);
  for (const t of inits) graph.msg(5, t);
  graph.msg(11, valueInfo('input', ['batch', ...spec.input]));
  graph.msg(12, valueInfo(final, ['batch', shape[0]]));
  const model = new Pb().int(1, 7).str(2, o.producer ?? 'convnet').msg(7, graph).msg(8, new Pb().str(1, '').int(2, 13));
  return model.finish();
}

export function saveOnnx(path: string, spec: ModelSpec, sd: Map<string, Tensor>, o: { softmax?: boolean } = {}): void {
  writeFileAtomic(path, [onnxModel(spec, sd, o)]);
}
