/**
 * Picks a pool by Celery's `-P` name: 'prefork' / 'processes' (child processes), 'threads'
 * (worker threads), 'solo' (in this process, one task at a time), 'event' (in this process,
 * `concurrency` tasks at a time on the event loop).
 */
import type { Celery } from '../../app/celery.js';
import { ConfigError } from '../../errors.js';
import type { Logger } from '../../util/logger.js';
import { EventLoopPool } from './inline-pool.js';
import { createProcessPool } from './process.js';
import { createThreadPool } from './thread.js';
import type { Pool } from './types.js';

/** The pool names `-P` accepts. */
export const POOL_KINDS = ['prefork', 'processes', 'threads', 'solo', 'event'] as const;

/** A pool name. */
export type PoolKind = (typeof POOL_KINDS)[number];

/** Everything any pool may need; each kind uses its part. */
export interface CreatePoolOptions {
  concurrency: number;
  logger: Logger;
  /** In-process pools: the app whose tasks run. */
  app?: Celery | undefined;
  /** Process and thread pools: the `-A` spec each child loads (`path` or `path:attribute`). */
  appSpec?: string | undefined;
  /** Directory `appSpec` is resolved against. Default: process.cwd(). */
  cwd?: string | undefined;
  /** Replace a child after this many tasks (worker_max_tasks_per_child). */
  maxTasksPerChild?: number | null | undefined;
  /** Replace a child above this memory after a task, KiB (worker_max_memory_per_child). */
  maxMemoryPerChild?: number | null | undefined;
  /** Milliseconds a child may take to load the app. Default 60 000. */
  startTimeoutMs?: number | undefined;
  /** Extra Node flags for prefork children. */
  execArgv?: readonly string[] | undefined;
}

/** True for the names `-P` accepts. */
export function isPoolKind(value: string): value is PoolKind {
  return (POOL_KINDS as readonly string[]).includes(value);
}

/** Creates (does not start) the pool of the given kind. */
export function createPool(kind: PoolKind, options: CreatePoolOptions): Pool {
  switch (kind) {
    case 'prefork':
    case 'processes':
      return createProcessPool({ ...childSettings(kind, options), execArgv: options.execArgv });
    case 'threads':
      return createThreadPool(childSettings(kind, options));
    case 'solo':
    case 'event': {
      if (!options.app) {
        throw new ConfigError(`The ${kind} pool runs tasks in this process and needs the app`, {
          setting: 'pool',
          hint: 'pass { app } to createPool()',
        });
      }
      return new EventLoopPool({
        app: options.app,
        concurrency: options.concurrency,
        logger: options.logger,
        name: kind === 'solo' ? 'solo' : 'event loop',
      });
    }
  }
}

function childSettings(kind: PoolKind, options: CreatePoolOptions) {
  if (!options.appSpec) {
    throw new ConfigError(
      `The ${kind} pool loads the app in each child and needs the app module's path`,
      {
        setting: 'pool',
        hint: 'start the worker with -A <module> (e.g. -A src/tasks.ts), or use -P event',
      },
    );
  }
  return {
    concurrency: options.concurrency,
    appSpec: options.appSpec,
    cwd: options.cwd,
    maxTasksPerChild: options.maxTasksPerChild,
    maxMemoryPerChild: options.maxMemoryPerChild,
    startTimeoutMs: options.startTimeoutMs,
    logger: options.logger,
  };
}
