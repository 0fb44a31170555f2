/**
 * The thread pool: `concurrency` worker threads, each loading the app module and running one
 * task at a time. Threads start faster and pass messages faster than processes, but a hard
 * time limit can only ask V8 to stop the thread (`Worker.terminate()`): tight loops stop
 * within milliseconds, while JSON- or allocation-heavy code may run on for seconds. The job
 * still ends at its limit and a fresh thread takes the slot; use prefork for strict limits.
 */
import { Worker } from 'node:worker_threads';
import { needsTypeScriptLoader } from '../../util/typescript.js';
import type { Logger } from '../../util/logger.js';
import { ChildPool, type ChildEvents, type ChildHandle } from './child-pool.js';
import { isFromChild } from './messages.js';
import { describeExit } from './outcome.js';
import { childEntry, type ChildPoolSettings } from './process.js';

/** Options of the thread pool. */
export type ThreadPoolOptions = ChildPoolSettings;

/**
 * Threads do not inherit tsx's loader hooks on Node 20, so each thread registers tsx itself
 * before importing the child entry (and through it, the TypeScript app module).
 */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})().catch((error) => { process.nextTick(() => { throw error; }); });
`;

/** Creates the thread pool. Call `start()` before use (it waits until every thread loaded the app). */
export function createThreadPool(options: ThreadPoolOptions): ChildPool {
  const entry = childEntry('thread-child').href;
  return new ChildPool({
    name: 'threads',
    processes: false,
    concurrency: options.concurrency,
    appSpec: options.appSpec,
    cwd: options.cwd ?? process.cwd(),
    maxTasksPerChild: options.maxTasksPerChild ?? null,
    maxMemoryPerChild: options.maxMemoryPerChild ?? null,
    startTimeoutMs: options.startTimeoutMs ?? 60_000,
    logger: options.logger,
    spawn: (events) =>
      spawnThread(
        entry,
        needsTypeScriptLoader(options.appSpec) ? tsxApi() : null,
        events,
        options.logger,
      ),
  });
}

function spawnThread(
  entry: string,
  tsx: string | null,
  events: ChildEvents,
  logger: Logger,
): ChildHandle {
  const worker = new Worker(BOOTSTRAP, { eval: true, workerData: { entry, tsx } });
  let gone = false;
  worker.on('message', (message: unknown) => {
    if (isFromChild(message)) events.message(message);
  });
  worker.on('error', (error) => {
    // An uncaught error ends the thread; 'exit' follows.
    logger.error(`Thread ${worker.threadId} crashed: ${error.message}`, error);
  });
  worker.on('exit', (code) => {
    gone = true;
    events.exit(describeExit(code, null));
  });
  return {
    pid: process.pid,
    label: `thread ${worker.threadId}`,
    send(message) {
      if (!gone) worker.postMessage(message);
    },
    kill() {
      if (!gone) void worker.terminate();
    },
  };
}

/** The URL of tsx's ESM API (its `register()`), or null when tsx is not installed. */
function tsxApi(): string | null {
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    return null;
  }
}
