// Training-step time of an AlexNet at a fixed GLOBAL batch, alone or data-parallel:
//   CONVNET_NUM_THREADS=2 node bench/step.mjs --batch 64                       (1 rank × 2 threads)
//   mpirun -np 2 -x CONVNET_NUM_THREADS=1 node bench/step.mjs --batch 64       (2 ranks × 1 thread)
// Step = forward + cross-entropy + backward (gradient buckets averaged during it) + SGD with momentum.
// Prints (rank 0) the median step time and, per step, how long backward's end waited for communication.
import { parseArgs } from 'node:util';
import { Rng, Tensor } from '@convnet/tensor';
import { CrossEntropyLoss } from '@convnet/layers';
import { SGD } from '@convnet/optim';
import { createModel } from '@convnet/alexnet';
import { GradientBuckets, broadcastParameters, initProcessGroup, shardRng } from '../dist/index.js';

const { values } = parseArgs({ options: { model: { type: 'string', default: 'paper' }, batch: { type: 'string', default: '64' }, steps: { type: 'string', default: '3' }, 'bucket-mb': { type: 'string', default: '25' } } });
const pg = initProcessGroup({ timeoutSec: 600 });
const B = Number(values.batch), local = B / pg.size;
const net = createModel(values.model, { seed: 1 });
broadcastParameters(pg, net);
shardRng(net.dropoutRng, pg.rank, pg.size);
const buckets = new GradientBuckets(pg, net, { bucketCapMB: Number(values['bucket-mb']) });
const opt = new SGD(net.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
const ce = new CrossEntropyLoss();
const [c, h] = net.spec.input;
const x = new Tensor(new Rng(2, pg.rank).normal(local * c * h * h), [local, c, h, h]);
const labels = Int32Array.from({ length: local }, (_, i) => (i * 37 + pg.rank) % 1000);
const rows = [];
for (let s = 0; s <= Number(values.steps); s++) {
  pg.barrier();
  const t0 = performance.now();
  ce.forward(net.forward(x), labels);
  const t1 = performance.now();
  buckets.begin();
  net.backward(ce.backward());
  const t = buckets.finish();
  const t2 = performance.now();
  opt.step();
  const t3 = performance.now();
  if (s > 0) rows.push({ step: (t3 - t0) / 1000, fwd: (t1 - t0) / 1000, bwd: (t2 - t1) / 1000, wait: t.waitMs / 1000, comm: t.commSeconds, opt: (t3 - t2) / 1000 });
}
const med = (k) => rows.map((r) => r[k]).sort((a, b) => a - b)[rows.length >> 1];
if (pg.rank === 0) {
  const threads = process.env.CONVNET_NUM_THREADS ?? 'all';
  const m = (k) => med(k).toFixed(2);
  const nb = buckets.buckets.length;
  console.log(
    `${values.model} global batch ${B}: ${pg.size} rank(s) × ${threads} thread(s), ${nb} buckets: ` +
      `median step ${m('step')} s (${(B / med('step')).toFixed(1)} img/s): forward ${m('fwd')}, ` +
      `backward ${m('bwd')} of which waiting for communication ${m('wait')} ` +
      `(collectives ran ${m('comm')} s, overlapping backward), SGD ${m('opt')}`,
  );
}
pg.close();
