// The command line's flag table: parsing, did-you-mean, value checks, the config file's JSON Schema, help.
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BASE_CONFIG, CONFIG_SPECS, configFlags, configSchema, readConfigFile, type TrainConfig } from '../src/config.js';
import { camelCase, didYouMean, formatHelp, kebabCase, parse } from '../src/flags.js';
import { configFromArgs, defaultsFor } from '../src/cmd-train.js';

const flags = configFlags();

describe('flags', () => {
  it('every training setting is one name: kebab-case flag = camelCase config key', () => {
    expect(Object.keys(CONFIG_SPECS).sort()).toEqual(Object.keys(BASE_CONFIG).sort());
    for (const f of flags) {
      expect(camelCase(f.name)).toBe(f.configKey);
      expect(kebabCase(f.configKey!)).toBe(f.name);
    }
    expect(flags.find((f) => f.configKey === 'plateauPatience')!.name).toBe('plateau-patience');
  });

  it('parses --x v, --x=v, --no-x, negative numbers and positionals', () => {
    const p = parse('train', flags, ['--epochs=10', '--lr', '0.5', '--no-flip', '--seed', '7', '--weight-decay', '0']);
    expect(p.values).toEqual({ epochs: 10, lr: 0.5, flip: false, seed: 7, 'weight-decay': 0 });
    expect(() => parse('train', flags, ['--lr', '-1'])).toThrow("--lr: expected a number > 0, got '-1'");
    expect(() => parse('train', flags, ['x'])).toThrow("unexpected argument 'x'");
    expect(parse('pack', [], ['a', 'b'], { positionals: [2, 2] }).positionals).toEqual(['a', 'b']);
  });

  it('checks types, enums and bounds with the flag and value in the message', () => {
    const cases: [string[], string][] = [
      [['--epochs', '2.5'], "--epochs: expected an integer in [1, 1000000], got '2.5'"],
      [['--threads', '5000'], "--threads: expected an integer in [0, 1024], got '5000'"],
      [['--crop', '1000000'], "--crop: expected an integer in [0, 4096], got '1000000'"],
      [['--momentum', '1'], "--momentum: expected a number in [0, 1), got '1'"],
      [['--schedule', 'linear'], "--schedule: expected plateau, step, cosine, onecycle or constant, got 'linear'"],
      [['--flip=maybe'], "--flip: expected true or false, got 'maybe'"],
      [['--lr'], '--lr: expected a value'],
      [['--no-flip=1'], "--no-flip takes no value (got '1')"],
    ];
    for (const [argv, msg] of cases) expect(() => parse('train', flags, argv), argv.join(' ')).toThrow(msg);
  });

  it('suggests the nearest flag or command: typos, and a word of a longer name', () => {
    expect(() => parse('train', flags, ['--epocs', '3'])).toThrow("unknown option '--epocs' (did you mean --epochs?)");
    expect(() => parse('train', flags, ['--patience', '3'])).toThrow('(did you mean --plateau-patience?)');
    expect(() => parse('train', flags, ['--frobnicate'])).toThrow(/^unknown option '--frobnicate'; see convnet train --help$/);
    expect(didYouMean('trian', ['pack', 'train', 'eval'])).toBe('train');
    expect(didYouMean('evl', ['pack', 'train', 'eval'])).toBe('eval');
    expect(didYouMean('zzz', ['pack', 'train', 'eval'])).toBe(null);
  });

  it('defaults depend on the model: the paper recipe for paper/torchvision', () => {
    expect(defaultsFor(undefined, undefined)).toMatchObject({ model: 'small-bn', epochs: BASE_CONFIG.epochs, schedule: BASE_CONFIG.schedule });
    expect(defaultsFor(undefined, 'paper')).toMatchObject({ model: 'paper', epochs: 90, lr: 0.01, schedule: 'plateau', crop: 227, lighting: 0.1 });
    expect(defaultsFor(undefined, 'torchvision')).toMatchObject({ crop: 224 });
    const help = formatHelp({ name: 'train', summary: '', usage: 'convnet train', flags: [], run: () => 0 }, configFlags(defaultsFor(undefined, 'paper')), 200);
    expect(help).toMatch(/--epochs N\s+number of epochs \(default 90\)/);
    expect(help).toMatch(/--plateau-patience N\s+.*\(default 2\)/);
  });
});

describe('config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convnet-args-'));
  const write = (name: string, obj: unknown) => { const p = join(dir, name); writeFileSync(p, typeof obj === 'string' ? obj : JSON.stringify(obj)); return p; };

  it('the shipped config.schema.json is configSchema() (regenerate: pnpm --filter @convnet/trainer schema)', () => {
    const shipped = JSON.parse(readFileSync(new URL('../config.schema.json', import.meta.url), 'utf8'));
    expect(shipped).toEqual(configSchema());
    const props = (shipped as { properties: Record<string, { type: string }> }).properties;
    expect(props.lr).toMatchObject({ type: 'number', exclusiveMinimum: 0, default: BASE_CONFIG.lr });
    expect(props.momentum).toMatchObject({ minimum: 0, exclusiveMaximum: 1 });
    expect(props.schedule).toMatchObject({ enum: ['plateau', 'step', 'cosine', 'onecycle', 'constant'] });
  });

  it('is validated against the schema; errors name the file and the key', () => {
    const ok = write('ok.json', { $schema: './config.schema.json', plateauPatience: 4, lr: 0.2, flip: false });
    expect(readConfigFile(ok)).toEqual({ plateauPatience: 4, lr: 0.2, flip: false });
    const cases: [unknown, string][] = [
      [{ patience: 3 }, "unknown key 'patience'"],
      [{ weight_decay: 0.1 }, "unknown key 'weight_decay' (did you mean 'weightDecay'?)"],
      [{ 'batch-size': 3 }, "unknown key 'batch-size' (did you mean 'batchSize'?)"],
      [{ lr: '0.1' }, "'lr' must be a number, got \"0.1\""],
      [{ epochs: 0 }, "'epochs': expected an integer in [1, 1000000], got 0"],
      [{ schedule: 'linear' }, "'schedule': expected plateau, step, cosine, onecycle or constant, got 'linear'"],
      [{ flip: 'yes' }, "'flip' must be a boolean (true or false), got \"yes\""],
      [{ model: 3 }, "'model' must be a string, got 3"],
      [[1, 2], 'must hold a JSON object'],
      ['{ lr: 1', 'is not valid JSON'],
    ];
    cases.forEach(([obj, msg], i) => {
      const p = write(`bad${i}.json`, obj);
      expect(() => readConfigFile(p), JSON.stringify(obj)).toThrow(`--config: ${p}`);
      expect(() => readConfigFile(p), JSON.stringify(obj)).toThrow(msg);
    });
  });

  it('flags override the file, the file overrides the defaults for its model', () => {
    const p = write('paper.json', { model: 'paper', lr: 0.02 });
    const { cfg, given } = configFromArgs({ config: p, lr: 0.03, 'max-steps': 5 });
    expect(cfg).toMatchObject({ model: 'paper', epochs: 90, crop: 227, lr: 0.03, maxSteps: 5 } satisfies Partial<TrainConfig>);
    expect(given).toEqual({ model: 'paper', lr: 0.03, maxSteps: 5 }); // file keys count as given (resume applies or refuses them)
  });
});
