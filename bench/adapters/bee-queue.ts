/**
 * bee-queue: stores NO return value in Redis; the result only travels in its 'succeeded'
 * event, which the producer receives on the queue-level 'job succeeded' event (the per-job
 * event can be lost when the worker finishes before save() resolves). "Completed" in the
 * drain is the job id being in the succeeded set.
 */
import Queue from 'bee-queue';
import { Redis } from 'ioredis';
import { LocalProducer, type Client } from '../lib/producer.js';
import type { LoopOptions, Producer, SystemAdapter, Target } from '../lib/types.js';
import { nodeWorker, packageVersion } from './common.js';

const QUEUE = 'bench';

interface AddJob {
  x: number;
  y: number;
}

async function openClient(target: Target): Promise<Client<Queue.Job<AddJob>>> {
  const redis = { host: target.redis.host, port: target.redis.port, db: target.redis.db };
  const queue = new Queue<AddJob>(QUEUE, {
    redis,
    isWorker: false,
    getEvents: true,
    storeJobs: false,
  });
  const counter = new Redis(redis);
  const early = new Map<string, unknown>();
  const waiters = new Map<string, (v: unknown) => void>();
  queue.on('job succeeded', (id, result) => {
    const w = waiters.get(id);
    if (w) {
      waiters.delete(id);
      w(result);
    } else early.set(id, result);
  });
  await queue.ready();
  const waitId = (id: string, timeoutMs: number): Promise<unknown> => {
    if (early.has(id)) {
      const v = early.get(id);
      early.delete(id);
      return Promise.resolve(v);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(id);
        reject(new Error(`bee-queue: no result for job ${id} after ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.set(id, (v) => {
        clearTimeout(timer);
        resolve(v);
      });
    });
  };
  return {
    async send(x, y) {
      return queue.createJob({ x, y }).save();
    },
    async sendBatch(pairs) {
      const jobs = pairs.map(([x, y]) => queue.createJob({ x, y }));
      const errors = await queue.saveAll(jobs);
      if (errors.size) throw new Error(`bee-queue saveAll: ${errors.size} jobs failed`);
      return jobs;
    },
    wait: (job, timeoutMs) => waitId(job.id, timeoutMs),
    completed: () => counter.scard(`bq:${QUEUE}:succeeded`),
    async close() {
      early.clear();
      counter.disconnect();
      await queue.close();
    },
  };
}

/** The bee-queue adapter. */
export const beeQueue: SystemAdapter = {
  id: 'bee-queue',
  label: 'bee-queue',
  store: 'redis',
  defaultConcurrency: 100,
  describe: (t) =>
    `bee-queue ${packageVersion('bee-queue')}, process(${t.concurrency}), defaults; keeps no result in Redis (event only)`,
  enqueueModes: ['one', 'concurrent', 'batch'],
  drainEnqueueMode: 'batch',
  endToEndMode: 'concurrent',
  unavailable: async () => undefined,
  versions: async () => ({ 'bee-queue': packageVersion('bee-queue') }),
  workerSpec: (target) => nodeWorker('bee-queue.mjs', target, QUEUE),
  async openProducer(target: Target, loops: LoopOptions): Promise<Producer> {
    return new LocalProducer(await openClient(target), loops);
  },
};
