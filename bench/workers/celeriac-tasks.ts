/**
 * celeriac's benchmark app: one task, tasks.add(x, y) -> x + y, with results stored. The harness
 * builds its producer from createBenchApp(); the worker loads celeriac-app.ts, which builds
 * the same app from BENCH_BROKER_URL.
 */
import { Celery } from '../../src/index.js';

/** A celeriac app on `url` (broker and result backend alike) and its add task. */
export function createBenchApp(url: string) {
  // env: {} so that a CELERY_BROKER_URL in the caller's environment cannot redirect the benchmark.
  const app = new Celery('bench', { broker: url, backend: url }, { env: {} });
  const add = app.task((x: number, y: number) => x + y, { name: 'tasks.add' });
  return { app, add };
}
