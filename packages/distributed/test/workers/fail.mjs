// Ranks reduce a small buffer every 20 ms; at iteration --at, rank --rank fails the way --mode says:
// kill (SIGKILL itself), hang (spins forever in JS), stop (SIGSTOP itself), throw (an uncaught error).
import { parseArgs } from 'node:util';
import { initProcessGroup } from '../../dist/index.js';

const { values } = parseArgs({ options: { mode: { type: 'string' }, at: { type: 'string', default: '5' }, rank: { type: 'string', default: '1' }, timeout: { type: 'string', default: '3' } } });
const pg = initProcessGroup({ timeoutSec: Number(values.timeout) });
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const buf = new Float32Array(1000);
for (let i = 0; i < 1000; i++) {
  if (i === Number(values.at) && pg.rank === Number(values.rank)) {
    console.error(`rank ${pg.rank}: failing by '${values.mode}' at iteration ${i}`);
    if (values.mode === 'kill') process.kill(process.pid, 'SIGKILL');
    if (values.mode === 'stop') process.kill(process.pid, 'SIGSTOP');
    if (values.mode === 'hang') for (;;);
    if (values.mode === 'throw') throw new Error('a failure in rank ' + pg.rank);
  }
  pg.allreduce(buf, 'sum', `iteration ${i}`);
  sleep(20);
}
pg.close();
