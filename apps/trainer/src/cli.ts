#!/usr/bin/env node
/**
 * `convnet`: the commands in COMMANDS, parsed by flags.ts from their declared flags. Every user error is one
 * line naming the flag, file or value and what was expected (exit 2); a stack trace means a bug.
 *
 * Adding a command: write a `Command` (flags.ts) in its own file and list it here.
 */
import { configSchema } from './config.js';
import { UsageError } from './errors.js';
import { ENV, didYouMean, formatHelp, parse, type Command, type FlagSpec } from './flags.js';
import { evalCommand, predictCommand } from './inference.js';
import { exportCommand } from './export.js';
import { packCommand } from './cmd-pack.js';
import { PLUGIN_HELP, builtinNotes, loadPlugins, pluginNotes, takePlugins } from './plugins.js';
import { summaryCommand } from './cmd-summary.js';
import { boardCommand } from './board/cmd-board.js';
import { trainCommand } from './cmd-train.js';
import { formatVersion, versionInfo } from './version.js';

const schemaCommand: Command = {
  name: 'schema',
  summary: 'print the JSON Schema of `convnet train --config` files',
  usage: 'convnet schema',
  flags: [],
  run() {
    console.log(JSON.stringify(configSchema(), null, 2));
    return 0;
  },
};

export const COMMANDS: Command[] = [
  packCommand, trainCommand, evalCommand, predictCommand, exportCommand, summaryCommand, boardCommand, schemaCommand,
];

function usage(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length)) + 4;
  return [
    'usage: convnet <command> [options]', '', 'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}${c.summary}`),
    '', 'every command:', `  ${PLUGIN_HELP}`,
    '', "run 'convnet <command> --help' for a command's options; 'convnet --version' for versions and what this machine can run",
    '', 'environment:', ...Object.values(ENV).map((e) => `  ${e.name.padEnd(26)}${e.help}`),
  ].join('\n');
}

function flagsOf(cmd: Command, argv: string[]): FlagSpec[] {
  if (typeof cmd.flags !== 'function') return cmd.flags;
  // flags that depend on what was given (train's defaults): a lenient pass reads --data/--model/--config first
  const names = cmd.flags({});
  return cmd.flags(parse(cmd.name, names, argv, { lenient: true }).values);
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...given] = argv;
  try {
    // plugins first: their models and kernels are then known to every command's flags
    const { plugins, rest } = takePlugins(given);
    await loadPlugins(plugins);
    if (name === 'train') for (const note of builtinNotes) console.error(`convnet train: note: ${note}`);
    if (name === 'train') for (const note of pluginNotes) console.error(`convnet train: ${note}`);
    if (name === undefined) { console.error(usage()); return 2; }
    if (name === '--help' || name === '-h') { console.log(usage()); return 0; }
    if (name === '--version' || name === '-V' || name === 'version') { console.log(formatVersion(await versionInfo())); return 0; }
    if (name === 'help') {
      const c = rest[0] === undefined ? undefined : COMMANDS.find((x) => x.name === rest[0]);
      if (rest[0] !== undefined && !c) throw new UsageError(unknownCommand(rest[0]));
      console.log(c ? formatHelp(c, flagsOf(c, rest.slice(1))) : usage());
      return 0;
    }
    const cmd = COMMANDS.find((c) => c.name === name);
    if (!cmd) throw new UsageError(unknownCommand(name));
    const flags = flagsOf(cmd, rest);
    const args = parse(cmd.name, flags, rest, { positionals: cmd.positionals });
    if (args.help) { console.log(formatHelp(cmd, flags)); return 0; }
    return await cmd.run(args);
  } catch (e) {
    const err = e as Error;
    const where = COMMANDS.some((c) => c.name === name) ? `convnet ${name}` : 'convnet';
    if (err instanceof UsageError || err.name === 'DataError') {
      console.error(`${where}: ${err.message}`);
      return 2;
    }
    if (err.name === 'RunError') {
      console.error(`${where}: ${err.message}`);
      return 1;
    }
    if (process.env.CONVNET_DEBUG) throw e;
    console.error(`${where}: ${err.message} (internal error; CONVNET_DEBUG=1 shows the stack)`);
    return 1;
  }
}

function unknownCommand(name: string): string {
  const near = didYouMean(name, COMMANDS.map((c) => c.name));
  if (name.startsWith('-')) return `unknown option '${name}' before a command; usage: convnet <command> [options] (commands: ${COMMANDS.map((c) => c.name).join(', ')})`;
  return `unknown command '${name}'${near ? ` (did you mean '${near}'?)` : ''}; commands: ${COMMANDS.map((c) => c.name).join(', ')}`;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
