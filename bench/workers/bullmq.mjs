// BullMQ worker process for the benchmark: add(x, y) -> x + y, result kept in the job hash
// (removeOnComplete off, BullMQ's default). Plain Node, no loader. Settings from BENCH_* env.
import { Worker } from 'bullmq';

const connection = {
  host: process.env.BENCH_REDIS_HOST,
  port: Number(process.env.BENCH_REDIS_PORT),
  db: Number(process.env.BENCH_REDIS_DB ?? 0),
};
const worker = new Worker(
  process.env.BENCH_QUEUE ?? 'bench',
  async (job) => job.data.x + job.data.y,
  {
    connection,
    concurrency: Number(process.env.BENCH_CONCURRENCY ?? 1),
  },
);
worker.on('error', (e) => console.error('worker error', e));
await worker.waitUntilReady();
const stop = () => {
  setTimeout(() => process.exit(0), 2000).unref();
  worker.close().then(
    () => process.exit(0),
    () => process.exit(0),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
