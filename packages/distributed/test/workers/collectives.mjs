// Every collective against the value computed by hand; prints one JSON line per rank with the failures.
import { initProcessGroup } from '../../dist/index.js';

const pg = initProcessGroup({ timeoutSec: 20 });
const { rank, size } = pg;
const failures = [];
const check = (what, got, want) => {
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) { failures.push(`${what}[${i}]: got ${got[i]}, want ${want[i]}`); return; }
};
const n = 1000;
const base = (r) => Float32Array.from({ length: n }, (_, i) => (i % 13) * (r + 1) - r);
const sum = Float32Array.from({ length: n }, (_, i) => { let s = 0; for (let r = 0; r < size; r++) s += base(r)[i]; return s; });
let a = base(rank); pg.allreduce(a, 'sum'); check('sum', a, sum);
a = base(rank); pg.allreduce(a, 'avg'); check('avg', a, sum.map((v) => v / size));
a = base(rank); pg.allreduce(a, 'max'); check('max', a, Float32Array.from({ length: n }, (_, i) => Math.max(...Array.from({ length: size }, (_, r) => base(r)[i]))));
a = base(rank); pg.allreduce(a, 'min'); check('min', a, Float32Array.from({ length: n }, (_, i) => Math.min(...Array.from({ length: size }, (_, r) => base(r)[i]))));
const root = size - 1;
a = base(rank); pg.broadcast(a, root); check('broadcast', a, base(root));
pg.barrier();
// non-blocking: two reductions in flight while this thread computes; results as the blocking ones
const big = Float32Array.from({ length: 1 << 20 }, (_, i) => (i % 7) + rank);
const small = base(rank);
const w1 = pg.allreduceAsync(big, 'sum', 'big'), w2 = pg.allreduceAsync(small, 'avg', 'small');
let busy = 0;
for (let i = 0; i < 1e6; i++) busy += Math.sqrt(i);
w2.wait(); w1.wait();
check('async avg', small, sum.map((v) => v / size));
check('async sum', big.subarray(0, 14), Float32Array.from({ length: 14 }, (_, i) => size * (i % 7) + (size * (size - 1)) / 2));
if (!w1.test() || !w2.test()) failures.push('test() after wait() is false');
// argument errors name the argument
try { pg.allreduce(new Float64Array(3)); failures.push('Float64Array accepted'); } catch (e) { if (!/argument 'buf': expected a Float32Array, got Float64Array/.test(e.message)) failures.push(e.message); }
try { pg.broadcast(new Float32Array(3), size); failures.push('bad root accepted'); } catch (e) { if (!/argument 'root'/.test(e.message)) failures.push(e.message); }
console.log(JSON.stringify({ rank, size, failures, busy: busy > 0 }));
pg.close();
