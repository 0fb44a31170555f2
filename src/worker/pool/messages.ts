/**
 * What the parent and a pool child (process or thread) say to each other. Messages are small
 * structured objects (structured clone: Dates, BigInts, NaN and typed arrays survive), one
 * job at a time per child, as Celery's prefork children do.
 */
import type { TaskRequest } from '../../app/task-types.js';
import type { ExceptionInfo } from '../../protocol/types.js';
import type { PoolOutcome } from './types.js';

/** Sent once, right after the child starts: what to load. */
export interface ChildInit {
  t: 'init';
  /** The `-A` spec (`path` or `path:attribute`), resolved against `cwd`. */
  appSpec: string;
  cwd: string;
  /** Report the child's resident set size after each job (max-memory-per-child). */
  reportRss: boolean;
}

/** Parent → child. */
export type ToChild =
  | ChildInit
  /** Run a task; `seq` names the job in later messages. `soft` is seconds or null. */
  | { t: 'run'; seq: number; name: string; request: TaskRequest; soft: number | null }
  /** Abort the job's signal (terminate / revoke with terminate). */
  | { t: 'abort'; seq: number }
  /** The answer to a `state` message: null when the state was stored. */
  | { t: 'stated'; n: number; error: WireError | null }
  /** Finish and exit (recycling, shrinking, closing). */
  | { t: 'exit' };

/** Child → parent. */
export type FromChild =
  /** The app module is loaded; jobs may come. */
  | { t: 'ready'; pid: number }
  /** The app module could not be loaded; the child exits after sending this. */
  | { t: 'fatal'; error: WireError }
  /** A job ended. `rss` is bytes, or 0 when not asked for. */
  | { t: 'done'; seq: number; outcome: PoolOutcome; rss: number }
  /** `ctx.updateState()` from the running task; answered with `stated` and the same `n`. */
  | { t: 'state'; seq: number; n: number; state: string; meta: unknown }
  /** A task hook failed (logged by the parent; the outcome is unchanged). */
  | { t: 'warn'; seq: number; text: string; error: WireError };

/** An error as plain data, for logs and rethrowing on the other side. */
export interface WireError {
  name: string;
  message: string;
  stack: string;
  info: ExceptionInfo;
}

/** True for values shaped like a message from a child (the boundary check). */
export function isFromChild(value: unknown): value is FromChild {
  return (
    typeof value === 'object' && value !== null && typeof (value as { t?: unknown }).t === 'string'
  );
}

/** True for values shaped like a message from the parent. */
export function isToChild(value: unknown): value is ToChild {
  return (
    typeof value === 'object' && value !== null && typeof (value as { t?: unknown }).t === 'string'
  );
}
