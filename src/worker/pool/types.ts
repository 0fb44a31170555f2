/**
 * The pool seam: how a worker runs task bodies. The event-loop pool runs them in this process;
 * the process pool (prefork) and thread pool run them in children that load the same app
 * module. Outcomes are data; a pool never throws for a task's own failure.
 */
import type { TaskRequest } from '../../app/task-types.js';
import type { RetryRequest } from '../../errors.js';
import type { ExceptionInfo } from '../../protocol/types.js';

/** One task to run. */
export interface PoolJob {
  taskName: string;
  request: TaskRequest;
  /** Seconds; null = none. */
  softTimeLimit: number | null;
  /** Seconds; null = none. */
  hardTimeLimit: number | null;
  /** Custom states (ctx.updateState) reported while the task runs. */
  onState(state: string, meta: unknown): Promise<void>;
  /** Called when a runner takes the job, with the pid that runs it. */
  onStart?: ((pid: number) => void) | undefined;
}

/** What running a job came to, as plain data (it crosses process boundaries). */
export type PoolOutcome =
  | { kind: 'success'; value: unknown; runtime: number }
  | {
      kind: 'failure';
      error: ExceptionInfo;
      traceback: string;
      runtime: number;
      cause?: 'time-limit' | 'worker-lost' | 'terminated';
    }
  | {
      kind: 'retry';
      retry: Omit<RetryRequest, 'exc'>;
      countdown: number;
      error: ExceptionInfo;
      traceback: string;
      runtime: number;
    }
  | { kind: 'reject'; requeue: boolean; reason: string; runtime: number }
  | { kind: 'ignore'; runtime: number };

/** A pool of task runners. */
export interface Pool {
  /** 'event loop' | 'prefork' | 'threads' | 'solo' (shown in the banner). */
  readonly name: string;
  readonly concurrency: number;
  /** Pids of child processes (empty for in-process pools). */
  readonly pids: readonly number[];
  start(): Promise<void>;
  /** Runs the job when a slot is free. */
  run(job: PoolJob): Promise<PoolOutcome>;
  /** Stops a running job: its signal aborts at once, and after `graceMs` its runner is killed. */
  terminate(taskId: string, graceMs: number): void;
  /** Changes the number of slots. */
  resize(concurrency: number): void;
  /**
   * Replaces every child with a fresh one that loads the app again (pool_restart): idle ones at
   * once, busy ones when their task ends. Only pools with children have it.
   */
  restart?(): void;
  /** Waits for running jobs (up to `timeoutMs`), then stops runners. */
  close(timeoutMs: number): Promise<void>;
}
