/**
 * The command line's one mechanism: every command declares its flags as data (FlagSpec), and this file parses
 * argv against them (`--name value`, `--name=value`, `--no-name` for booleans, `--` ends flags), suggests the
 * nearest name for a typo, checks values (type, enum, bounds) and renders per-command help from the same table.
 *
 * Adding a flag: add a FlagSpec to the command's `flags` (a training setting goes into CONFIG_SPECS in config.ts
 * instead, which makes it a flag, a config-file key and a JSON Schema property at once).
 * Adding a command: export a Command and list it in COMMANDS (cli.ts).
 */
import { UsageError } from './errors.js';

export type FlagType = 'string' | 'number' | 'integer' | 'boolean';

export interface FlagSpec {
  /** kebab-case, without the leading dashes. */
  name: string;
  type: FlagType;
  help: string;
  /** Placeholder in help (`--run DIR`); default: the type. */
  value?: string;
  /** Shown in help as "(default X)". */
  default?: unknown;
  enum?: readonly string[];
  /** Inclusive bounds for numbers. */
  min?: number;
  max?: number;
  /** Numbers must be greater than this (exclusive lower bound). */
  above?: number;
  /** Numbers must be smaller than this (exclusive upper bound). */
  below?: number;
  /** May be given several times (values collected in an array). */
  repeatable?: boolean;
  /** The camelCase key of the config file this flag sets (training settings only). */
  configKey?: string;
  /** Help section (default 'options'). */
  group?: string;
}

export interface EnvSpec {
  name: string;
  help: string;
}

export interface Parsed {
  /** Values by flag name (kebab-case), parsed and checked; absent when not given. */
  values: Record<string, unknown>;
  positionals: string[];
  help: boolean;
}

export interface Command {
  name: string;
  /** One line for `convnet --help`. */
  summary: string;
  /** `convnet eval --run DIR [options]` */
  usage: string;
  /** Paragraph(s) shown under the usage line. */
  description?: string;
  /** The command's flags; may depend on what was given (train's defaults depend on --data and --model). */
  flags: FlagSpec[] | ((given: Record<string, unknown>) => FlagSpec[]);
  /** Positional arguments allowed: [min, max] (default none). */
  positionals?: [number, number];
  env?: EnvSpec[];
  /** Extra help text after the options (examples, notes). */
  notes?: string;
  run(args: Parsed): Promise<number> | number;
}

/** Global environment variables shown by every command's help that they affect. */
export const ENV: Record<string, EnvSpec> = {
  CONVNET_NUM_THREADS: { name: 'CONVNET_NUM_THREADS', help: 'native compute threads (default: all cores; --threads overrides)' },
  CONVNET_ISA: { name: 'CONVNET_ISA', help: 'force the CPU kernel path: avx512, avx2 or generic (default: the best the CPU has)' },
  CONVNET_MATMUL_PRECISION: { name: 'CONVNET_MATMUL_PRECISION', help: "'fp32' (default) or 'bf16' for every matrix product" },
  CONVNET_CACHE: { name: 'CONVNET_CACHE', help: 'where image trees given to --data are packed (default $XDG_CACHE_HOME/convnet or ~/.cache/convnet)' },
  CONVNET_DIST_TIMEOUT: { name: 'CONVNET_DIST_TIMEOUT', help: 'seconds a rank waits for the others under mpirun before naming the hung rank (default 300)' },
  CONVNET_DEBUG: { name: 'CONVNET_DEBUG', help: 'any value: internal errors show their stack trace' },
};

export const camelCase = (kebab: string) => kebab.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
export const kebabCase = (camel: string) => camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Optimal-string-alignment distance (Levenshtein with adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.length][b.length];
}

/** The known name nearest to `typed` (a typo, or a word of a longer name: patience → plateau-patience), or null. */
export function didYouMean(typed: string, known: readonly string[]): string | null {
  let best: string | null = null, bestD = Infinity;
  for (const k of known) {
    const d = editDistance(typed, k);
    if (d < bestD) { bestD = d; best = k; }
  }
  if (best !== null && bestD <= Math.max(1, Math.min(3, Math.floor(typed.length / 3)))) return best;
  const parts = known.filter((k) => typed.length >= 3 && (k.split('-').includes(typed) || k.startsWith(typed)));
  return parts.length === 1 ? parts[0] : null;
}

/** Checks and converts one value given for `flag` (who: how to name it in the error, e.g. `--lr`). */
export function checkValue(f: Pick<FlagSpec, 'type' | 'enum' | 'min' | 'max' | 'above' | 'below'>, raw: unknown, who: string): unknown {
  let v = raw;
  if (f.type === 'boolean') {
    if (typeof v === 'string') {
      if (v === 'true' || v === '1') v = true;
      else if (v === 'false' || v === '0') v = false;
    }
    if (typeof v !== 'boolean') throw new UsageError(`${who}: expected true or false, got ${show(raw)}`);
    return v;
  }
  if (f.type === 'number' || f.type === 'integer') {
    if (typeof v === 'string') v = v.trim() === '' ? NaN : Number(v);
    const want = f.type === 'integer' ? 'an integer' : 'a number';
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new UsageError(`${who}: expected ${want}${range(f)}, got ${show(raw)}`);
    if (f.type === 'integer' && !Number.isSafeInteger(v)) throw new UsageError(`${who}: expected ${want}${range(f)}, got ${show(raw)}`);
    if ((f.min !== undefined && v < f.min) || (f.max !== undefined && v > f.max) || (f.above !== undefined && v <= f.above) || (f.below !== undefined && v >= f.below))
      throw new UsageError(`${who}: expected ${want}${range(f)}, got ${show(raw)}`);
    return v;
  }
  if (typeof v !== 'string') throw new UsageError(`${who}: expected a string, got ${show(raw)}`);
  if (f.enum && !f.enum.includes(v)) throw new UsageError(`${who}: expected ${orList(f.enum)}, got ${show(raw)}`);
  return v;
}

const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v));
const orList = (xs: readonly string[]) => (xs.length === 1 ? xs[0] : `${xs.slice(0, -1).join(', ')} or ${xs.at(-1)}`);

function range(f: Pick<FlagSpec, 'min' | 'max' | 'above' | 'below'>): string {
  const lo = f.min ?? f.above, hi = f.max ?? f.below;
  if (lo !== undefined && hi !== undefined) return ` in ${f.min !== undefined ? '[' : '('}${lo}, ${hi}${f.max !== undefined ? ']' : ')'}`;
  if (lo !== undefined) return ` ${f.min !== undefined ? '≥' : '>'} ${lo}`;
  if (hi !== undefined) return ` ${f.max !== undefined ? '≤' : '<'} ${hi}`;
  return '';
}

/**
 * Parses argv against `flags`. Unknown flags and commands name the nearest known one; values are checked
 * with checkValue. `--help`/`-h` anywhere sets `help` (the rest is still parsed leniently for help's sake).
 */
export function parse(cmd: string, flags: FlagSpec[], argv: string[], o: { positionals?: [number, number]; lenient?: boolean } = {}): Parsed {
  const byName = new Map(flags.map((f) => [f.name, f]));
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  let help = false;
  const set = (f: FlagSpec, v: unknown, who: string) => {
    const checked = o.lenient ? tryCheck(f, v, who) : checkValue(f, v, who);
    if (checked === undefined) return;
    if (f.repeatable) (values[f.name] = (values[f.name] as unknown[] | undefined) ?? []) && (values[f.name] as unknown[]).push(checked);
    else values[f.name] = checked;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (a === '--help' || a === '-h') { help = true; continue; }
    if (!a.startsWith('-') || a === '-' || /^-\d/.test(a)) { positionals.push(a); continue; }
    if (!a.startsWith('--')) {
      if (o.lenient) continue;
      throw new UsageError(`unknown option '${a}' (options are spelled --name; see convnet ${cmd} --help)`);
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const inline = eq < 0 ? undefined : a.slice(eq + 1);
    let f = byName.get(name);
    if (!f && name.startsWith('no-') && byName.get(name.slice(3))?.type === 'boolean') {
      if (inline !== undefined && !o.lenient) throw new UsageError(`--${name} takes no value (got '${inline}')`);
      set(byName.get(name.slice(3))!, false, `--${name}`);
      continue;
    }
    if (!f) {
      if (o.lenient) continue;
      const near = didYouMean(name, [...byName.keys()]);
      throw new UsageError(`unknown option '--${name}'${near ? ` (did you mean --${near}?)` : ''}; see convnet ${cmd} --help`);
    }
    if (f.type === 'boolean') {
      set(f, inline ?? true, `--${name}`);
      continue;
    }
    let v = inline;
    if (v === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next !== '--')) {
        if (o.lenient) continue;
        throw new UsageError(`--${name}: expected a value${f.value ? ` (${f.value})` : ''}`);
      }
      v = next;
      i++;
    }
    set(f, v, `--${name}`);
  }
  const [lo, hi] = o.positionals ?? [0, 0];
  if (!help && !o.lenient && (positionals.length < lo || positionals.length > hi)) {
    if (hi === 0) throw new UsageError(`unexpected argument '${positionals[0]}'; see convnet ${cmd} --help`);
    throw new UsageError(`expected ${lo === hi ? lo : hi === Infinity ? `at least ${lo}` : `${lo} to ${hi}`} argument${hi === 1 ? '' : 's'}, got ${positionals.length}; see convnet ${cmd} --help`);
  }
  return { values, positionals, help };
}

function tryCheck(f: FlagSpec, v: unknown, who: string): unknown {
  try {
    return checkValue(f, v, who);
  } catch {
    return undefined;
  }
}

function placeholder(f: FlagSpec): string {
  if (f.type === 'boolean') return '';
  if (f.value) return ` ${f.value}`;
  if (f.enum) return ` ${f.enum.join('|')}`;
  return f.type === 'string' ? ' S' : f.type === 'integer' ? ' N' : ' X';
}

/** Wraps `text` to `width` columns, continuation lines indented by `indent`. */
export function wrap(text: string, width: number, indent: number): string {
  const words = text.split(' ');
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > width - indent) { lines.push(line); line = w; }
    else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

export function formatDefault(v: unknown): string {
  if (typeof v === 'string') return v === '' ? "''" : v;
  return JSON.stringify(v);
}

/** A command's help: usage, description, options by group with the defaults that apply, environment. */
export function formatHelp(cmd: Command, flags: FlagSpec[], width = Math.min(process.stdout.columns || 100, 120)): string {
  const out = [`usage: ${cmd.usage}`, ''];
  if (cmd.description) out.push(cmd.description, '');
  const groups = new Map<string, FlagSpec[]>();
  for (const f of flags) groups.set(f.group ?? 'options', [...(groups.get(f.group ?? 'options') ?? []), f]);
  const col = Math.min(30, Math.max(...flags.map((f) => `  --${f.name}${placeholder(f)}`.length)) + 2);
  for (const [g, fs] of groups) {
    out.push(`${g}:`);
    for (const f of fs) {
      const head = `  --${f.name}${placeholder(f)}`;
      const def = f.default !== undefined ? ` (default ${formatDefault(f.default)})` : '';
      const body = wrap(`${f.help}${def}`, width, col);
      out.push(head.length + 1 >= col ? `${head}\n${' '.repeat(col)}${body}` : `${head.padEnd(col)}${body}`);
    }
    out.push('');
  }
  out.push(`  -h, --help${' '.repeat(Math.max(1, col - 12))}this help`, '');
  if (cmd.notes) out.push(cmd.notes, '');
  if (cmd.env?.length) {
    out.push('environment:');
    const ecol = Math.max(...cmd.env.map((e) => e.name.length)) + 4;
    for (const e of cmd.env) out.push(`  ${e.name.padEnd(ecol - 2)}${wrap(e.help, width, ecol)}`);
    out.push('');
  }
  return out.join('\n').trimEnd();
}
