/**
 * BullMQ: jobs and return values kept in Redis (defaults). Results are waited for with
 * `job.waitUntilFinished(queueEvents)` (latency) or one QueueEvents 'completed' listener
 * (end-to-end), as BullMQ's users do.
 */
import { Job, Queue, QueueEvents } from 'bullmq';
import { LocalProducer, type Client } from '../lib/producer.js';
import type { LoopOptions, Producer, SystemAdapter, Target } from '../lib/types.js';
import { nodeWorker, packageVersion } from './common.js';

const QUEUE = 'bench';

async function openClient(target: Target): Promise<Client<Job>> {
  const connection = { host: target.redis.host, port: target.redis.port, db: target.redis.db };
  const queue = new Queue(QUEUE, { connection });
  const events = new QueueEvents(QUEUE, { connection });
  await queue.waitUntilReady();
  await events.waitUntilReady();
  // Results seen on the event stream, for waitAll (one listener instead of N).
  const seen = new Map<string, unknown>();
  let onSeen: (() => void) | undefined;
  events.on('completed', ({ jobId, returnvalue }) => {
    seen.set(jobId, returnvalue);
    onSeen?.();
  });
  return {
    send: (x, y) => queue.add('add', { x, y }),
    sendBatch: (pairs) => queue.addBulk(pairs.map(([x, y]) => ({ name: 'add', data: { x, y } }))),
    wait: (job, timeoutMs) => job.waitUntilFinished(events, timeoutMs),
    async waitAll(jobs, timeoutMs) {
      const missing = new Set(jobs.map((j) => j.id!).filter((id) => !seen.has(id)));
      const deadline = Date.now() + timeoutMs;
      let lastProgress = Date.now();
      while (missing.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 500);
          onSeen = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        onSeen = undefined;
        const before = missing.size;
        for (const id of missing) if (seen.has(id)) missing.delete(id);
        if (missing.size < before) lastProgress = Date.now();
        // The event stream is trimmed (~10 000 entries): read results of jobs whose event was lost.
        if (Date.now() - lastProgress > 2000) {
          for (const id of [...missing].slice(0, 1000)) {
            const j = await Job.fromId(queue, id);
            if (j?.finishedOn) {
              seen.set(id, j.returnvalue);
              missing.delete(id);
            }
          }
          lastProgress = Date.now();
        }
        if (Date.now() > deadline)
          throw new Error(`BullMQ waitAll: ${missing.size} results missing after ${timeoutMs} ms`);
      }
      const values = jobs.map((j) => seen.get(j.id!));
      seen.clear();
      return values;
    },
    completed: () => queue.getCompletedCount(),
    result: async (job) => (await Job.fromId(queue, job.id!))?.returnvalue as unknown,
    async close() {
      await events.close();
      await queue.close();
    },
  };
}

/** The BullMQ adapter. */
export const bullmq: SystemAdapter = {
  id: 'bullmq',
  label: 'BullMQ',
  store: 'redis',
  defaultConcurrency: 100,
  describe: (t) =>
    `BullMQ ${packageVersion('bullmq')} (ioredis ${packageVersion('ioredis')}), Worker concurrency ${t.concurrency}, defaults`,
  enqueueModes: ['one', 'concurrent', 'batch'],
  drainEnqueueMode: 'batch',
  endToEndMode: 'concurrent',
  unavailable: async () => undefined,
  versions: async () => ({ bullmq: packageVersion('bullmq'), ioredis: packageVersion('ioredis') }),
  workerSpec: (target) => nodeWorker('bullmq.mjs', target, QUEUE),
  async openProducer(target: Target, loops: LoopOptions): Promise<Producer> {
    return new LocalProducer(await openClient(target), loops);
  },
};
