/**
 * `--plugin <package>` (any command, repeatable): loads a package that contributes kernels, backends or models.
 * The package is resolved from the current directory first, then from the trainer's own install, and must export
 * `convnetPlugin = { name, register(api) }`; `register` gets the trainer's model registry (`registerModel` of
 * @convnet/alexnet) and registers its kernels with @convnet/tensor. Example: `--plugin @convnet/kernels-batchnorm
 * --model alexnet-bn`. Plugins load before the command's flags are read, so their models are valid `--model`s.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { registerModel } from '@convnet/alexnet';
import { hasKernel, kernelNames, listBackends } from '@convnet/tensor';
import { convnetPlugin as batchNormPlugin } from '@convnet/kernels-batchnorm';
import { UsageError } from './errors.js';

export const PLUGIN_HELP = '--plugin P   load a package of kernels/models first (repeatable), e.g. @convnet/kernels-batchnorm';

/** Takes every `--plugin X` / `--plugin=X` out of argv. */
export function takePlugins(argv: string[]): { plugins: string[]; rest: string[] } {
  const plugins: string[] = [], rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { rest.push(...argv.slice(i)); break; }
    if (a === '--plugin') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError('--plugin: expected a package name, got nothing');
      plugins.push(v);
    } else if (a.startsWith('--plugin=')) plugins.push(a.slice('--plugin='.length));
    else rest.push(a);
  }
  return { plugins, rest };
}

/** The plugin's ESM entry (so it shares the trainer's ESM copies of @convnet/* packages, not their CJS builds). */
function resolvePlugin(name: string): string {
  // a path (./dir, ../x, /abs): the package directory or the module file itself
  if (/^\.{0,2}[\\/]/.test(name) || name === '.' || name === '..' || isAbsolute(name)) {
    const abs = resolve(name);
    if (!existsSync(abs)) throw new UsageError(`--plugin ${name}: no such file or directory (${abs})`);
    if (statSync(abs).isFile()) return abs;
    if (!existsSync(join(abs, 'package.json')))
      throw new UsageError(`--plugin ${name}: ${abs} is a directory without package.json ` +
        '(give a package directory or its module file)');
    return entryOf(join(abs, 'package.json'), name);
  }
  for (const from of [join(process.cwd(), 'package.json'), fileURLToPath(import.meta.url)]) {
    // the node_modules folders Node would search from there (a package's exports need not list ./package.json)
    const dirs = createRequire(from).resolve.paths(name) ?? [];
    const pkgFile = dirs.map((d) => join(d, name, 'package.json')).find((f) => existsSync(f));
    if (pkgFile) return entryOf(pkgFile, name);
  }
  // the commands that put it where the lookup above finds it: the current folder, or next to this convnet (a global
  // install, `npm i -g @convnet/trainer`, finds packages installed with -g)
  const own = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const here = !relative(process.cwd(), own).startsWith('..');
  const global = here ? '' : ` or next to convnet (npm install -g ${name})`;
  throw new UsageError(`--plugin: cannot find the package '${name}' from ${process.cwd()} or from convnet's install ` +
    `(${own}): install it here (npm install ${name})${global}; a plugin folder is given as a path (./${name})`);
}

/** The file an exports target gives an ESM importer in Node: a string, or the import, node or default condition. */
function esmTarget(t: unknown): string | undefined {
  if (typeof t === 'string') return t;
  if (typeof t !== 'object' || t === null || Array.isArray(t)) return undefined;
  const c = t as Record<string, unknown>;
  for (const k of ['import', 'node', 'default']) if (k in c) return esmTarget(c[k]);
  return undefined;
}

/** A package's ESM entry from its package.json (exports '.' by condition, then module, main, index.js). */
function entryOf(pkgFile: string, name: string): string {
  let pkg: { exports?: unknown; module?: string; main?: string };
  try {
    pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
    if (typeof pkg !== 'object' || pkg === null) throw new Error('not a JSON object');
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    throw new UsageError(`--plugin ${name}: ${pkgFile}: not a valid package.json (${why})`);
  }
  const dot = (pkg.exports as Record<string, unknown> | undefined)?.['.'] ?? pkg.exports;
  const entry = esmTarget(dot) ?? pkg.module ?? pkg.main ?? 'index.js';
  return join(dirname(pkgFile), entry);
}

type Plugin = { register?: (api: { registerModel: typeof registerModel }) => unknown; onBackend?: (name: string) => void };
const loaded: Plugin[] = [];

/**
 * Plugins the trainer always loads: @convnet/kernels-batchnorm (BatchNorm2d; the default net `small-bn` and
 * `alexnet-bn`). Where its native addon could not be built, its kernels run on `ref` (TypeScript, slow): the reason
 * is in `builtinNotes`, which `--version` shows and `convnet train` prints when it starts.
 */
let builtinsLoaded = false;
export const builtinNotes: string[] = [];
export function loadBuiltinPlugins(): void {
  if (builtinsLoaded) return;
  builtinsLoaded = true;
  const r = batchNormPlugin.register({ registerModel }) as { native: string[]; fallback: Record<string, string> };
  if (!r.native.includes('cpu') && r.fallback.cpu) builtinNotes.push(`BatchNorm runs in TypeScript (slow): ${r.fallback.cpu.split('\n')[0]}`);
  loaded.push(batchNormPlugin);
}

/** Tells the loaded plugins about a backend registered after them (the trainer's --device), so they bind kernels to it. */
export function pluginsOnBackend(name: string): void {
  for (const p of loaded) p.onBackend?.(name);
}

/** One line per `--plugin` saying what it registered; `convnet train` prints them when it starts. */
export const pluginNotes: string[] = [];

/**
 * `plugin NAME: kernels a, b (native on cpu); models m`: the backends (other than ref) that implement every new
 * kernel themselves; where `cpu` does not, the plugin's own reason (its register()'s `fallback.cpu`) is quoted.
 */
function describeRegistered(name: string, kernels: string[], models: string[], registered: unknown): string {
  const parts: string[] = [];
  if (kernels.length) {
    const native = listBackends().filter((b) => b !== 'ref' && kernels.every((k) => hasKernel(k, b)));
    const why = (registered as { fallback?: Record<string, unknown> } | null)?.fallback?.cpu;
    const where = native.length ? `native on ${native.join(', ')}` : 'on ref only';
    const reason = !native.includes('cpu') && typeof why === 'string' ? `; cpu runs ref: ${why.split('\n')[0]}` : '';
    parts.push(`kernels ${kernels.join(', ')} (${where}${reason})`);
  }
  if (models.length) parts.push(`models ${models.join(', ')}`);
  return `plugin ${name}: ${parts.length ? parts.join('; ') : 'registered no kernels or models'}`;
}

/** Imports and registers each plugin; returns what each registered. */
export async function loadPlugins(names: string[]): Promise<{ name: string; registered: unknown }[]> {
  const out: { name: string; registered: unknown }[] = [];
  loadBuiltinPlugins();
  for (const name of names) {
    // a built-in plugin named again: already registered
    if (name === batchNormPlugin.name) { out.push({ name, registered: { builtin: true } }); continue; }
    const file = resolvePlugin(name);
    let mod: { convnetPlugin?: Plugin };
    try {
      mod = await import(pathToFileURL(file).href);
    } catch (e) {
      throw new UsageError(`--plugin ${name}: loading ${file} failed: ${(e as Error).message.split('\n')[0]}`);
    }
    const p = mod.convnetPlugin;
    if (!p || typeof p.register !== 'function')
      throw new UsageError(`--plugin ${name}: the package exports no convnetPlugin = { register(api) } (is it a convnet plugin?)`);
    let registered: unknown;
    const kernelsBefore = new Set(kernelNames()), models: string[] = [];
    try {
      registered = p.register({ registerModel: (n, spec) => { registerModel(n, spec); models.push(n); } });
    } catch (e) {
      const why = (e as Error)?.message?.split('\n')[0] ?? String(e);
      throw new UsageError(`--plugin ${name}: its register() failed: ${why}`);
    }
    pluginNotes.push(describeRegistered(name, kernelNames().filter((k) => !kernelsBefore.has(k)), models, registered));
    out.push({ name, registered });
    loaded.push(p);
  }
  return out;
}
