// onnxruntime-node for the ONNX tests: a dependency where one is installed, else the copy `pnpm bench:peers`
// installs into test/.cache/bench-peers (it is not a devDependency: 288 MB). null when neither is there.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/** The part of onnxruntime-node's API the tests use (it is not a dependency, so no types from it). */
export interface OrtSession { run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown; dims: readonly number[] }>> }
export interface Ort {
  InferenceSession: { create(model: string | Uint8Array): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
}
const NAME = 'onnxruntime-node';
export const ORT_INSTALL = 'pnpm bench:peers (installs onnxruntime-node into test/.cache/bench-peers)';

export async function loadOrt(): Promise<Ort | null> {
  try {
    return (await import(NAME)) as Ort;
  } catch {
    try {
      const peers = new URL('../../../test/.cache/bench-peers/x.js', import.meta.url).pathname;
      return (await import(pathToFileURL(createRequire(peers).resolve(NAME)).href)) as Ort;
    } catch {
      return null;
    }
  }
}
