// Without a launcher: the single-process group, argument errors, sharding helpers, what to install.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Rng, Tensor } from '@convnet/tensor';
import { Linear, ReLU, Sequential } from '@convnet/layers';
import {
  GradientBuckets, INSTALL_HINT, SingleProcessGroup, broadcastParameters, initProcessGroup, launchedByMpi, mpiStatus, rankSlice,
  replicasInSync, shardRng,
} from '../src/index.js';

describe('SingleProcessGroup', () => {
  it('is what initProcessGroup gives outside a launcher; collectives leave buffers as they are', () => {
    expect(launchedByMpi({})).toBe(false);
    expect(launchedByMpi({ OMPI_COMM_WORLD_SIZE: '2' })).toBe(true);
    const pg = launchedByMpi() ? new SingleProcessGroup() : initProcessGroup();
    expect(pg.backend).toBe('single');
    expect([pg.rank, pg.size]).toEqual([0, 1]);
    const a = Float32Array.from([1, -2, 3]);
    pg.allreduce(a, 'sum');
    pg.allreduce(a, 'avg');
    pg.broadcast(a, 0);
    pg.barrier();
    expect(pg.allreduceAsync(a, 'max').wait()).toBe(0);
    expect(Array.from(a)).toEqual([1, -2, 3]);
    expect(pg.stats().collectives).toBe(5);
  });

  it('names the argument on bad input', () => {
    const pg = new SingleProcessGroup();
    expect(() => pg.allreduce([1, 2] as unknown as Float32Array)).toThrow("allreduce: argument 'buf': expected a Float32Array, got Array");
    expect(() => pg.allreduce(new Float32Array(2), 'mean' as 'avg')).toThrow("argument 'op': expected one of sum, avg, max, min, got 'mean'");
    expect(() => pg.broadcast(new Float32Array(2), 1)).toThrow("broadcast: argument 'root': expected a rank in [0, 1), got 1");
    expect(() => initProcessGroup({ backend: 'nccl' as 'mpi' })).toThrow("backend must be 'auto', 'mpi' or 'single', got 'nccl'");
  });

  it('gradient buckets are a no-op at size 1 and group parameters last layer first', () => {
    const net = new Sequential([new Linear(4, 300, { rng: new Rng(1) }), new ReLU(), new Linear(300, 3, { rng: new Rng(2) })]);
    const b = new GradientBuckets(new SingleProcessGroup(), net, { bucketCapMB: 0.001 });
    expect(b.buckets.map((x) => x.names)).toEqual([['2.bias', '2.weight'], ['0.bias'], ['0.weight']]);
    expect(b.buckets[0].flat).not.toBeNull(); // two parameters: reduced through one flat buffer
    expect(b.buckets[2].flat).toBeNull(); // one parameter: reduced in place
    const x = new Tensor(new Rng(3).normal(8), [2, 4]);
    net.forward(x);
    b.begin();
    net.backward(new Tensor(new Rng(4).normal(6), [2, 3]));
    expect(b.finish().waitMs).toBe(0);
    expect(() => b.finish()).toThrow('begin() was not called');
    expect(() => new GradientBuckets(new SingleProcessGroup(), net, { bucketCapMB: 0 })).toThrow('bucketCapMB must be a positive number, got 0');
    broadcastParameters(new SingleProcessGroup(), net);
    expect(replicasInSync(new SingleProcessGroup(), net)).toBeNull();
  });
});

describe('sharding a global batch', () => {
  it('rankSlice: rank r takes the r-th contiguous part of each global batch', () => {
    const order = Int32Array.from({ length: 12 }, (_, i) => 100 + i);
    expect(Array.from(rankSlice(order, 1, 6, 0, 2))).toEqual([106, 107, 108]);
    expect(Array.from(rankSlice(order, 1, 6, 1, 2))).toEqual([109, 110, 111]);
    expect(() => rankSlice(order, 0, 5, 0, 2)).toThrow('global batch size 5 must be a positive multiple of the number of ranks (2)');
    expect(() => rankSlice(order, 2, 6, 0, 2)).toThrow('runs past the 12 samples');
  });

  it('shardRng: the ranks\' draws, laid side by side, are the one-process draws of the whole batch', () => {
    const size = 3, perSample = 5, local = 2;
    const whole = new Rng(11, 2, 40);
    const want = [whole.uniform(size * local * perSample), whole.bernoulli(size * local * 3, 0.5)];
    const got = [new Float32Array(0), new Float32Array(0)];
    const counters: number[] = [];
    for (let r = 0; r < size; r++) {
      const rng = shardRng(new Rng(11, 2, 40), r, size);
      got[0] = Float32Array.from([...got[0], ...rng.uniform(local * perSample)]);
      got[1] = Float32Array.from([...got[1], ...rng.bernoulli(local * 3, 0.5)]);
      counters.push(rng.counter);
    }
    expect(Array.from(got[0])).toEqual(Array.from(want[0]));
    expect(Array.from(got[1])).toEqual(Array.from(want[1]));
    expect(counters).toEqual([whole.counter, whole.counter, whole.counter]);
    expect(() => shardRng(new Rng(1), 2, 2)).toThrow('expected 0 <= rank < size, got rank 2 of 2');
  });
});

// What `pnpm install` left: the binding, or build/NOT_BUILT.txt saying why not (no MPI library, no compiler).
const notBuiltFile = fileURLToPath(new URL('../build/NOT_BUILT.txt', import.meta.url));
const notBuilt = existsSync(notBuiltFile) ? readFileSync(notBuiltFile, 'utf8').trim() : null;
const noMpiAtInstall = notBuilt !== null && notBuilt.startsWith('no MPI');

describe('the Open MPI binding', () => {
  it('reports whether it is built, and otherwise what to install', () => {
    const st = mpiStatus();
    if (st.available) expect(st.version).toMatch(/MPI/);
    else expect(st.reason).toContain(INSTALL_HINT);
    expect(INSTALL_HINT).toBe('install Open MPI (Debian/Ubuntu: apt-get install libopenmpi-dev openmpi-bin), then ' +
      'rebuild the binding: pnpm --filter @convnet/distributed run rebuild');
  });

  it.skipIf(!noMpiAtInstall)(
    `no MPI library at install: the reason says so and names the rebuild command${noMpiAtInstall ? '' : ' (skipped: ' +
      `MPI was found at install${notBuilt ? `; the build says: ${notBuilt}` : ''})`}`,
    () => {
      const st = mpiStatus();
      expect(st.available).toBe(false);
      const why = 'no MPI library was found when @convnet/distributed was installed, so its Open MPI binding was not built';
      expect((st as { reason: string }).reason).toBe(`${why}; ${INSTALL_HINT}`);
    },
  );

  it('a missing override path: the single-process group works, asking for MPI says what to install', () => {
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const script = `import('${dist}').then((m) => {
      const st = m.mpiStatus();
      const single = m.initProcessGroup();
      let err = '';
      try { m.initProcessGroup({ backend: 'mpi' }); } catch (e) { err = e.message; }
      console.log(JSON.stringify({ st, size: single.size, err }));
    })`;
    const missing = '/nonexistent/convnet_distributed.node';
    const env = { ...process.env, CONVNET_DISTRIBUTED_NATIVE_PATH: missing };
    const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.st.available).toBe(false);
    expect(out.size).toBe(1);
    const why = `the Open MPI binding is missing (${missing})`;
    expect(out.err).toBe(`distributed training needs Open MPI: ${why}; ${INSTALL_HINT}`);
  });
});
