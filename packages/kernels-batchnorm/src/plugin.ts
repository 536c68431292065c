/**
 * The trainer plugin (`convnet train --plugin @convnet/kernels-batchnorm --model alexnet-bn`): the trainer imports
 * the package, calls `convnetPlugin.register({ registerModel })` with its own model registry, and from then on
 * knows the kernels (on every backend registered so far) and the `alexnet-bn` and `small-bn` models. The trainer
 * loads this plugin itself (its default net is `small-bn`).
 */
import type { ModelOptions, ModelSpec } from '@convnet/alexnet';
import { alexnetBnSpec, smallBnSpec } from './model.js';
import { registerBatchNorm } from './register.js';

export interface PluginApi {
  registerModel(name: string, spec: (o?: ModelOptions) => ModelSpec): void;
}

export const convnetPlugin = {
  name: '@convnet/kernels-batchnorm',
  register(api: PluginApi): { native: string[]; fallback: Record<string, string>; models: string[] } {
    const r = registerBatchNorm();
    api.registerModel('alexnet-bn', alexnetBnSpec);
    api.registerModel('small-bn', smallBnSpec);
    return { ...r, models: ['alexnet-bn', 'small-bn'] };
  },
  /** Called by the trainer for a backend it registers after loading plugins (`--device cuda`): binds its kernels. */
  onBackend(_name: string): void {
    registerBatchNorm();
  },
};
