/**
 * celeriac's benchmark app: one task, tasks.add(x, y) -> x + y, with results stored. The harness
 * builds its producer from createBenchApp(); the worker loads celeriac-app.ts, which builds
 * the same app from BENCH_BROKER_URL.
 */
import { Celery } from '../../src/index.js';

/** A celeriac app on `url` (broker and result backend alike) and its add task. */
export function createBenchApp(url: string) {
  const app = new Celery('bench', { broker: url, backend: url });
  const add = app.task((x: number, y: number) => x + y, { name: 'tasks.add' });
  return { app, add };
}
