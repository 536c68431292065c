// Allreduce bandwidth for AlexNet's parameter count. Run under mpirun, e.g. on loopback TCP:
//   mpirun -np 2 --mca pml ob1 --mca btl self,tcp --mca btl_tcp_if_include lo node bench/allreduce.mjs
// Prints (rank 0) the median time of `--reps` blocking allreduces (sum) of --floats float32 values, the
// algorithm bandwidth (bytes / time) and the bus bandwidth 2(N-1)/N · bytes / time (what each link carries
// in a ring allreduce, comparable across N).
import { parseArgs } from 'node:util';
import { initProcessGroup } from '../dist/index.js';

const { values } = parseArgs({ options: { floats: { type: 'string', default: '60965224' }, reps: { type: 'string', default: '5' }, async: { type: 'boolean', default: false } } });
const n = Number(values.floats), reps = Number(values.reps);
const pg = initProcessGroup({ timeoutSec: 600, pollUs: Number(process.env.POLL_US ?? 20) });
const buf = new Float32Array(n).fill(1);
pg.allreduce(new Float32Array(1024), 'sum', 'warm-up');
const times = [];
for (let i = 0; i < reps; i++) {
  pg.barrier();
  const t = performance.now();
  if (values.async) pg.allreduceAsync(buf, 'avg').wait();
  else pg.allreduce(buf, 'avg');
  times.push((performance.now() - t) / 1000);
}
if (buf[0] !== 1 || buf[n - 1] !== 1) throw new Error(`wrong result ${buf[0]} ${buf[n - 1]}`);
times.sort((a, b) => a - b);
const med = times[times.length >> 1], bytes = 4 * n, N = pg.size;
if (pg.rank === 0) {
  const algo = (bytes / med / 1e9).toFixed(2);
  const bus = (((2 * (N - 1)) / N) * bytes / med / 1e9).toFixed(2);
  const size = `${N} ranks, ${n} floats (${(bytes / 1e6).toFixed(0)} MB)`;
  console.log(`${size}: median ${med.toFixed(3)} s (best ${times[0].toFixed(3)}) → algorithm ${algo} GB/s, bus ${bus} GB/s`);
}
pg.close();
