// celery-node worker process for the benchmark: tasks.add(x, y) -> x + y, Redis broker and
// Redis result backend (celery-task-meta-<id>). Its two log lines per task are muted (they cost
// ~17 % of its throughput; a user would mute them too). Plain Node; BENCH_* env.
import celery from 'celery-node';

console.info = () => {};
const url = process.env.BENCH_REDIS_URL;
const worker = celery.createWorker(url, url, process.env.BENCH_QUEUE ?? 'celery');
worker.register('tasks.add', (x, y) => x + y);
worker.start();
const stop = () => {
  setTimeout(() => process.exit(0), 2000).unref();
  worker.disconnect().then(
    () => process.exit(0),
    () => process.exit(0),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
