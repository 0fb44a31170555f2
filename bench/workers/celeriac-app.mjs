/**
 * The app module the celeriac worker loads in the benchmark, in JavaScript against the
 * compiled package (bench/.build/dist, built by bench/adapters/celeriac.ts): how a deployment
 * runs a worker, with no TypeScript loader in the process. celeriac-app.ts is the same app from
 * the sources (BENCH_CELERIAC_SOURCE=1). Broker and backend URL from BENCH_BROKER_URL.
 */
import { Celery } from '../.build/dist/index.js';

const url = process.env.BENCH_BROKER_URL;
if (!url)
  throw new Error(
    'BENCH_BROKER_URL is not set: this module is loaded by the benchmark (npm run bench)',
  );

// env: {} so that a CELERY_BROKER_URL in the caller's environment cannot redirect the benchmark.
export const app = new Celery('bench', { broker: url, backend: url }, { env: {} });
app.task((x, y) => x + y, { name: 'tasks.add' });
