/**
 * The types around {@link ChildPool}: how a child is started and talks (so processes and
 * threads plug in the same way), the pool's options, and jobs that want to know where they run.
 */
import type { Logger } from '../../util/logger.js';
import type { FromChild, ToChild } from './messages.js';
import type { PoolJob } from './types.js';

/** A job, optionally told when (and in which process) it starts. */
export type StartAwareJob = PoolJob & {
  /** Called when a child takes the job: `pid` is the process that runs it. */
  onStart?: ((pid: number) => void) | undefined;
};

/** One child as the pool sees it. */
export interface ChildHandle {
  /** The OS process running the child (the parent's pid for threads). */
  readonly pid: number;
  /** Process pid or thread id, for logs. */
  readonly label: string;
  send(message: ToChild): void;
  /** Ends the child now (SIGKILL / Worker.terminate()). */
  kill(): void;
}

/** What a child reports to its pool. */
export interface ChildEvents {
  message(message: FromChild): void;
  /** The child is gone; `detail` says how (`signal 9 (SIGKILL)`, `exitcode 1`). */
  exit(detail: string): void;
}

/** Starts one child. */
export type SpawnChild = (events: ChildEvents) => ChildHandle;

/** Options of a {@link ChildPool}. */
export interface ChildPoolOptions {
  /** Shown in the banner: 'prefork' or 'threads'. */
  name: string;
  /** Children are processes (their pids are listed in `pids`); false for threads. */
  processes: boolean;
  concurrency: number;
  /** The `-A` spec each child loads. */
  appSpec: string;
  cwd: string;
  /** Replace a child after this many tasks (null = never). */
  maxTasksPerChild: number | null;
  /** Replace a child after a task that left it above this resident size, KiB (null = never). */
  maxMemoryPerChild: number | null;
  /** Milliseconds a child may take to load the app. */
  startTimeoutMs: number;
  logger: Logger;
  spawn: SpawnChild;
}
