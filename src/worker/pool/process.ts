/**
 * The prefork pool: `concurrency` child processes (child_process.fork), each loading the app
 * module and running one task at a time, like Celery's prefork pool. CPU-bound tasks do not
 * block the worker's event loop, and hard time limits are real: the child is killed with
 * SIGKILL and replaced.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { needsTypeScriptLoader } from '../../util/typescript.js';
import type { Logger } from '../../util/logger.js';
import { ChildPool, type ChildEvents, type ChildHandle } from './child-pool.js';
import { packMessage, unpackMessage } from './ipc-codec.js';
import { isFromChild } from './messages.js';
import { describeExit } from './outcome.js';

/** Options of the process and thread pools. */
export interface ChildPoolSettings {
  /** Number of children (each runs one task at a time). */
  concurrency: number;
  /** The `-A` spec (`path` or `path:attribute`) each child loads with loadApp. */
  appSpec: string;
  /** Directory the spec is resolved against. Default: process.cwd(). */
  cwd?: string | undefined;
  /** Replace a child after this many tasks (Celery's worker_max_tasks_per_child). */
  maxTasksPerChild?: number | null | undefined;
  /** Replace a child whose resident memory is above this after a task, KiB (worker_max_memory_per_child). */
  maxMemoryPerChild?: number | null | undefined;
  /** Milliseconds a child may take to load the app. Default 60 000. */
  startTimeoutMs?: number | undefined;
  logger: Logger;
}

/** Options of the prefork pool. */
export interface ProcessPoolOptions extends ChildPoolSettings {
  /** Extra Node flags for the children (e.g. ['--max-old-space-size=512']). */
  execArgv?: readonly string[] | undefined;
}

/** Creates the prefork pool. Call `start()` before use (it waits until every child loaded the app). */
export function createProcessPool(options: ProcessPoolOptions): ChildPool {
  const entry = fileURLToPath(childEntry('process-child'));
  const loader = needsTypeScriptLoader(options.appSpec) ? tsxImport() : [];
  const execArgv = [...loader, ...(options.execArgv ?? [])];
  return new ChildPool({
    name: 'prefork',
    processes: true,
    concurrency: options.concurrency,
    appSpec: options.appSpec,
    cwd: options.cwd ?? process.cwd(),
    maxTasksPerChild: options.maxTasksPerChild ?? null,
    maxMemoryPerChild: options.maxMemoryPerChild ?? null,
    startTimeoutMs: options.startTimeoutMs ?? 60_000,
    logger: options.logger,
    spawn: (events) => spawnProcess(entry, execArgv, events, options.logger),
  });
}

function spawnProcess(
  entry: string,
  execArgv: string[],
  events: ChildEvents,
  logger: Logger,
): ChildHandle {
  // JSON channel; messages that are not plain JSON are cloned inside it (see ipc-codec.ts).
  const child = fork(entry, [], { execArgv, serialization: 'json', stdio: 'inherit' });
  let gone = false;
  child.on('message', (received: unknown) => {
    const message = unpackMessage(received);
    if (isFromChild(message)) events.message(message);
  });
  child.on('error', (error) => {
    // Sending to a child that just died, or a failed spawn (then 'exit' may never come).
    logger.debug(`prefork child ${child.pid ?? '?'}: ${error.message}`);
    if (child.pid === undefined && !gone) {
      gone = true;
      events.exit(`spawn failed: ${error.message}`);
    }
  });
  child.on('exit', (code, signal) => {
    if (gone) return;
    gone = true;
    events.exit(describeExit(code, signal));
  });
  return {
    pid: child.pid ?? 0,
    label: String(child.pid ?? '?'),
    send(message) {
      if (gone || !child.connected) return;
      child.send(packMessage(message), (error) => {
        if (error)
          logger.debug(
            `prefork child ${child.pid ?? '?'}: message not delivered: ${error.message}`,
          );
      });
    },
    kill() {
      if (!gone) child.kill('SIGKILL');
    },
  };
}

/** The child entry next to this module: .ts when running from source, .js when built. */
export function childEntry(name: string): URL {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${name}${ext}`, import.meta.url);
}

/** `--import <tsx>` so children can load TypeScript (the app module, and our sources when not built). */
function tsxImport(): string[] {
  try {
    return ['--import', import.meta.resolve('tsx')];
  } catch {
    return [];
  }
}
