/**
 * The app module the celeriac worker loads: `celeriac -A bench/workers/celeriac-app.ts worker`.
 * Broker and backend URL from BENCH_BROKER_URL (set by bench/adapters/celeriac.ts).
 */
import { createBenchApp } from './celeriac-tasks.js';

const url = process.env.BENCH_BROKER_URL;
if (!url)
  throw new Error(
    'BENCH_BROKER_URL is not set: this module is loaded by the benchmark (npm run bench)',
  );

/** The app the worker runs. */
export const app = createBenchApp(url).app;
