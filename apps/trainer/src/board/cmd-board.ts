/** `convnet board [DIR...]`: the runs under the folders given (default runs/), live, in the browser. */
import { existsSync, statSync } from 'node:fs';
import { UsageError } from '../errors.js';
import type { Command, Parsed } from '../flags.js';
import { DEFAULT_PORT, isLoopback, startBoard } from './server.js';

async function run(args: Parsed): Promise<number> {
  const dirs = args.positionals.length ? args.positionals : ['runs'];
  for (const d of dirs) {
    if (!existsSync(d))
      throw new UsageError(
        `${d}: no such folder` +
          (args.positionals.length ? '' : ' (train a run first: convnet train; or name the folders of runs)'),
      );
    if (!statSync(d).isDirectory())
      throw new UsageError(`${d}: not a folder (give the folder of a run, or a folder of runs)`);
  }
  const host = (args.values.host as string | undefined) ?? '127.0.0.1';
  const port = (args.values.port as number | undefined) ?? DEFAULT_PORT;
  let board;
  try {
    board = await startBoard({ dirs, host, port });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE')
      throw new UsageError(`--port ${port}: in use on ${host} (give another --port, or --port 0 for any free one)`);
    if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND')
      throw new UsageError(`--host ${host}: not an address of this machine`);
    if (err.code === 'EACCES')
      throw new UsageError(`--port ${port}: not allowed for this user (use a port above 1023)`);
    throw e;
  }
  const n = board.runs().length;
  console.log(
    `convnet board: ${n} run${n === 1 ? '' : 's'} under ${dirs.join(', ')}; open ${board.url}  (Ctrl-C stops)`,
  );
  if (!isLoopback(host))
    console.log(`convnet board: note: listening on ${host}: anyone who can reach this machine can read these runs`);
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void board.close().then(done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}

export const boardCommand: Command = {
  name: 'board',
  summary: 'watch and compare runs in the browser: curves, configurations, conv1 filters (live while training)',
  usage: 'convnet board [DIR...] [--host H] [--port N]',
  description:
    'Serves a page listing the runs found in the folders given (default runs/; a run folder itself, or a folder of\n' +
    'runs), with their curves overlaid, the configuration diff of the selected runs and their conv1 filters.\n' +
    'Running runs update live. A run on another machine: point board at its folder (a mount or a copy).',
  flags: [
    {
      name: 'host',
      type: 'string',
      value: 'H',
      default: '127.0.0.1',
      help: 'address to listen on (0.0.0.0: every interface; the runs are then readable by others)',
    },
    {
      name: 'port',
      type: 'integer',
      value: 'N',
      default: DEFAULT_PORT,
      min: 0,
      max: 65535,
      help: 'port (0: any free one)',
    },
  ],
  positionals: [0, 1000],
  notes: 'examples:\n  convnet board\n  convnet board runs/ /mnt/gpu-box/runs --port 8080',
  run,
};
