// K SGD steps of the small convnet (with dropout) at a fixed GLOBAL batch, on however many ranks this is
// launched with (plain `node` = 1 process; `mpirun -np N node ...` = N ranks). Rank 0 writes the final
// parameters (and a few facts) to --out. Used by test/mpi.test.ts to compare 2 ranks with 1 process.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Rng, Tensor } from '@convnet/tensor';
import { CrossEntropyLoss } from '@convnet/layers';
import { SGD, biasesWithoutDecay } from '@convnet/optim';
import { createModel } from '@convnet/alexnet';
import { GradientBuckets, broadcastParameters, initProcessGroup, rankSlice, replicasInSync, shardRng } from '../../dist/index.js';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '4' }, batch: { type: 'string', default: '16' }, out: { type: 'string' }, 'bucket-mb': { type: 'string', default: '0.25' }, timeout: { type: 'string', default: '60' } } });
const K = Number(values.steps), B = Number(values.batch);
const pg = initProcessGroup({ timeoutSec: Number(values.timeout) });
const { rank, size } = pg;
console.log(`rank ${rank}/${size} on host ${pg.host}`);
const net = createModel('small', { channels: 1, imageSize: 28, numClasses: 10, seed: 7 });
// every rank but 0 starts from different weights: the broadcast must make them equal
if (rank > 0) for (const p of net.parameters()) p.value.data.set(new Rng(rank, 9).normal(p.value.size));
broadcastParameters(pg, net);
shardRng(net.dropoutRng, rank, size);
const opt = new SGD(biasesWithoutDecay(net.namedParameters(), 1), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
const ce = new CrossEntropyLoss();
const buckets = new GradientBuckets(pg, net, { bucketCapMB: Number(values['bucket-mb']) });

// a fixed synthetic data set, the same on every rank
const N = K * B;
const images = new Rng(5, 0).normal(N * 784);
const classes = Int32Array.from({ length: N }, (_, i) => (i * 7) % 10);
const order = new Rng(3, 100).permutation(N);
const local = B / size;
const x = Tensor.zeros([local, 1, 28, 28]);
const labels = new Int32Array(local);
const losses = [];
let launchedDuringBackward = 0;
for (let step = 0; step < K; step++) {
  const idx = rankSlice(order, step, B, rank, size);
  idx.forEach((s, i) => { x.data.set(images.subarray(s * 784, (s + 1) * 784), i * 784); labels[i] = classes[s]; });
  net.dropoutRng.counter = step * 2 ** 26;
  const r = ce.forward(net.forward(x), labels);
  buckets.begin();
  net.backward(ce.backward());
  launchedDuringBackward += buckets.finish().launchedDuringBackward;
  opt.step();
  const l = new Float32Array([r.loss]);
  pg.allreduce(l, 'avg', 'loss');
  losses.push(l[0]);
}
const sync = replicasInSync(pg, net);
if (rank === 0 && values.out) {
  const params = Object.fromEntries(net.namedParameters().map(([n, p]) => [n, Array.from(p.value.data)]));
  writeFileSync(values.out, JSON.stringify({ size, losses, sync, buckets: buckets.buckets.length, launchedDuringBackward, stats: pg.stats(), params }));
}
pg.close();
