/** worker_threads entry for `pack`: writes the shards it is sent, one at a time. */
import { parentPort } from 'node:worker_threads';
import { fileImage, writeShard, type ShardTask } from './shard.js';

if (!parentPort) throw new Error('pack-worker must run in a worker thread');
const port = parentPort;
port.on('message', async (task: ShardTask) => {
  try {
    const meta = await writeShard(task, fileImage(task.decode), (ok) => port.postMessage({ type: 'item', ok }));
    port.postMessage({ type: 'done', shard: task.shard, meta });
  } catch (e) {
    port.postMessage({ type: 'error', shard: task.shard, message: (e as Error).stack ?? String(e) });
  }
});
