/**
 * celery-node: Celery's protocol v2 in Node, Redis broker + Redis result backend
 * (`celery-task-meta-<id>`). Its client polls results: every 2 ms for the latency run (a
 * tuned user setting; the default is 500 ms, i.e. ~500 ms latency), every 500 ms (its
 * default) while waiting for N results end-to-end.
 */
import { randomUUID } from 'node:crypto';
import celery from 'celery-node';
import type { AsyncResult } from 'celery-node/dist/app/result.js';
import { Redis } from 'ioredis';
import { LocalProducer, type Client } from '../lib/producer.js';
import type { LoopOptions, Producer, SystemAdapter, Target } from '../lib/types.js';
import { CeleryResultCounter, nodeWorker, packageVersion } from './common.js';

const QUEUE = 'celery';
const TASK = 'tasks.add';
const LATENCY_POLL_MS = 2;
const BULK_POLL_MS = 500;

async function openClient(target: Target): Promise<Client<AsyncResult>> {
  const client = celery.createClient(target.redis.url, target.redis.url, QUEUE);
  await client.isReady();
  const redis = new Redis({
    host: target.redis.host,
    port: target.redis.port,
    db: target.redis.db,
  });
  const counter = new CeleryResultCounter<AsyncResult>(redis, (r) => r.taskId);
  return {
    // sendTask() publishes without returning the publish promise; this is the same message
    // and the same LPUSH, awaited, so that "sent" means Redis has it.
    async send(x, y) {
      const id = randomUUID();
      const m = client.createTaskMessage(id, TASK, [x, y], {});
      await client.broker.publish(m.body, '', QUEUE, m.headers, m.properties);
      return client.asyncResult(id);
    },
    wait: (r, timeoutMs) => r.get(timeoutMs, LATENCY_POLL_MS) as Promise<unknown>,
    waitAll: (rs, timeoutMs) =>
      Promise.all(rs.map((r) => r.get(timeoutMs, BULK_POLL_MS) as Promise<unknown>)),
    completed: (rs) => counter.count(rs),
    async result(r) {
      const raw = await redis.get(`celery-task-meta-${r.taskId}`);
      return raw ? (JSON.parse(raw) as { result?: unknown }).result : undefined;
    },
    async close() {
      redis.disconnect();
      await client.disconnect();
    },
  };
}

/** The celery-node adapter. */
export const celeryNode: SystemAdapter = {
  id: 'celery-node',
  label: 'celery-node',
  store: 'redis',
  defaultConcurrency: 1, // not a setting: celery-node runs every received task at once
  describe: () =>
    `celery-node ${packageVersion('celery-node')}, worker log lines muted, result polling ${LATENCY_POLL_MS} ms (latency) / ${BULK_POLL_MS} ms (end-to-end); no ack, no concurrency limit`,
  enqueueModes: ['one', 'concurrent'],
  drainEnqueueMode: 'concurrent',
  endToEndMode: 'concurrent',
  unavailable: async () => undefined,
  versions: async () => ({ 'celery-node': packageVersion('celery-node') }),
  workerSpec: (target) => nodeWorker('celery-node.mjs', target, QUEUE),
  async openProducer(target: Target, loops: LoopOptions): Promise<Producer> {
    return new LocalProducer(await openClient(target), loops);
  },
};
