// bee-queue worker process for the benchmark: add(x, y) -> x + y. bee-queue keeps no return
// value in Redis (it only publishes it in its 'succeeded' event). Plain Node; BENCH_* env.
import Queue from 'bee-queue';

const redis = {
  host: process.env.BENCH_REDIS_HOST,
  port: Number(process.env.BENCH_REDIS_PORT),
  db: Number(process.env.BENCH_REDIS_DB ?? 0),
};
const queue = new Queue(process.env.BENCH_QUEUE ?? 'bench', {
  redis,
  isWorker: true,
  getEvents: false,
  storeJobs: false,
});
queue.on('error', (e) => console.error('queue error', e));
queue.process(Number(process.env.BENCH_CONCURRENCY ?? 1), async (job) => job.data.x + job.data.y);
await queue.ready();
const stop = () => {
  setTimeout(() => process.exit(0), 2000).unref();
  queue.close(1000).then(
    () => process.exit(0),
    () => process.exit(0),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
