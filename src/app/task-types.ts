/**
 * The public types of tasks: options, the request a running task sees, its context, and the
 * typed handle `app.task()` returns.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { RetryRequest } from '../errors.js';
import type { Signature } from '../canvas/signature.js';
import type { AsyncResult } from './async-result.js';

/** Options a task is defined with (Celery's task options in camelCase). */
export interface TaskOptions<A extends unknown[] = unknown[]> {
  /** The registered name. Default: `<app main>.<function name>`. */
  name?: string;
  /** Give the function its {@link TaskContext} as the first argument. */
  bind?: boolean;
  /** Retries allowed before MaxRetriesExceededError; null = forever. Default 3. */
  maxRetries?: number | null;
  /** Seconds before a retry when none is given. Default 180. */
  defaultRetryDelay?: number;
  /** Errors that trigger an automatic retry. */
  autoretryFor?: ReadonlyArray<abstract new (...args: never[]) => Error>;
  /** Exponential backoff for automatic retries: true = factor 1 s, or the factor in seconds. */
  retryBackoff?: boolean | number;
  /** Cap of the backoff, seconds. Default 600. */
  retryBackoffMax?: number;
  /** Full jitter on the backoff. Default true. */
  retryJitter?: boolean;
  /** `'10/s'`, `'100/m'`, `'1000/h'`. */
  rateLimit?: string | number | null;
  /** Hard time limit, seconds. */
  timeLimit?: number | null;
  /** Soft time limit, seconds. */
  softTimeLimit?: number | null;
  ignoreResult?: boolean;
  acksLate?: boolean;
  rejectOnWorkerLost?: boolean;
  serializer?: 'json' | 'msgpack';
  /** Default queue for this task. */
  queue?: string;
  priority?: number;
  /** Default expiry: seconds from sending, or a date. */
  expires?: number | Date;
  trackStarted?: boolean;
  /** Check the number of arguments when called (Celery's `typing`). Default true. */
  typing?: boolean;
  /** Parameter names, for mapping kwargs sent by Python callers. Default: read from the function. */
  params?: readonly string[];
  /**
   * Where keyword arguments go: `'params'` (default) binds each to the parameter of the same
   * name; `'context'` leaves them in `ctx.request.kwargs` only (like Python's `**kwargs`).
   */
  kwargsTo?: 'params' | 'context';
  /** Validates the argument tuple (any Standard Schema library: zod, valibot, arktype...). */
  schema?: StandardSchemaV1<unknown, A>;
  /** Name shown in logs and events instead of the real name. */
  shadow?: string;
}

/** The options after defaults were filled in. */
export interface ResolvedTaskOptions {
  name: string;
  bind: boolean;
  maxRetries: number | null;
  defaultRetryDelay: number;
  autoretryFor: ReadonlyArray<abstract new (...args: never[]) => Error>;
  retryBackoff: boolean | number;
  retryBackoffMax: number;
  retryJitter: boolean;
  rateLimit: string | number | null;
  timeLimit: number | null;
  softTimeLimit: number | null;
  ignoreResult: boolean | undefined;
  acksLate: boolean | undefined;
  rejectOnWorkerLost: boolean | undefined;
  serializer: 'json' | 'msgpack' | undefined;
  queue: string | undefined;
  priority: number | undefined;
  expires: number | Date | undefined;
  trackStarted: boolean | undefined;
  typing: boolean;
  kwargsTo: 'params' | 'context';
  shadow: string | undefined;
}

/** What a running task knows about the message it was started by (Celery's `self.request`). */
export interface TaskRequest {
  id: string;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  retries: number;
  hostname: string | null;
  deliveryInfo: {
    exchange: string;
    routingKey: string;
    priority: number | null;
    redelivered: boolean;
  };
  /** ISO string or null. */
  eta: string | null;
  /** ISO string or null. */
  expires: string | null;
  parentId: string | null;
  rootId: string | null;
  group: string | null;
  groupIndex: number | null;
  correlationId: string | null;
  replyTo: string | null;
  origin: string | null;
  isEager: boolean;
  /** [hard, soft] seconds. */
  timeLimit: [number | null, number | null];
  ignoreResult: boolean;
  /** Custom headers sent with the task. */
  headers: Record<string, unknown>;
}

/** Given to bound tasks (`bind: true`) as the first argument, and to class-based tasks as `this`. */
export interface TaskContext {
  readonly name: string;
  readonly request: TaskRequest;
  /** Aborted on soft time limit, revoke with terminate, and cold shutdown. */
  readonly signal: AbortSignal;
  /**
   * Ask for a retry: throws the Retry signal (or the error / MaxRetriesExceededError when no
   * retries are left). Use as `throw ctx.retry({ exc, countdown: 5 })` or just call it.
   */
  retry(options?: RetryRequest): never;
  /** Store a custom state (e.g. PROGRESS) with its meta, readable from AsyncResult while running. */
  updateState(state: string, meta?: unknown): Promise<void>;
}

/** Options of one call (Celery's apply_async options). */
export interface ApplyOptions {
  /** Seconds to wait before running. */
  countdown?: number;
  /** Earliest time to run (Date, ISO string or epoch ms). */
  eta?: Date | string | number;
  /** Seconds from now, or a date after which the task is not run (stored REVOKED). */
  expires?: number | Date | string;
  queue?: string;
  exchange?: string;
  routingKey?: string;
  /** 0..9 (on Redis and the embedded default, lower runs first, as Celery on Redis). */
  priority?: number;
  taskId?: string;
  headers?: Record<string, unknown>;
  ignoreResult?: boolean;
  serializer?: 'json' | 'msgpack';
  compression?: 'zlib' | 'gzip' | 'brotli';
  /** Tasks to call with the result. */
  link?: Signature | Signature[];
  /** Tasks to call with the failed task's id. */
  linkError?: Signature | Signature[];
  /** Retry publishing when the broker connection fails. */
  retry?: boolean;
  retryPolicy?: {
    maxRetries?: number;
    intervalStart?: number;
    intervalStep?: number;
    intervalMax?: number;
  };
  shadow?: string;
  timeLimit?: number;
  softTimeLimit?: number;
  /** Internal workflow fields, set by canvas and workers. */
  parentId?: string | null;
  rootId?: string | null;
  groupId?: string | null;
  groupIndex?: number | null;
}

/** A task handle: call it to run in-process, or send it with `delay` / `applyAsync`. */
export interface Task<A extends unknown[], R, Raw = R | Promise<R>> {
  (...args: A): Raw;
  /** The registered task name. */
  readonly taskName: string;
  /** Send with positional arguments. Resolves once the message is published. */
  delay(...args: A): Promise<AsyncResult<R>>;
  /** Send with Celery's options. */
  applyAsync(args?: A, kwargs?: null, options?: ApplyOptions): Promise<AsyncResult<R>>;
  /** Send with keyword arguments (mapped to parameters by name). */
  applyAsync(
    args: Partial<A> | readonly [],
    kwargs: Record<string, unknown>,
    options?: ApplyOptions,
  ): Promise<AsyncResult<R>>;
  /** A signature (partial arguments allowed: a parent's result is prepended in a chain). */
  s(...args: PartialArgs<A>): Signature<R>;
  /** An immutable signature: the parent's result is not passed. */
  si(...args: A): Signature<R>;
  /** Run in-process now, with a task context, and return an AsyncResult that is already ready. */
  apply(args?: A, kwargs?: Record<string, unknown>): Promise<AsyncResult<R>>;
  /** Typed access to the definition's options. */
  readonly options: Readonly<ResolvedTaskOptions>;
}

/** Any task handle. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTask = Task<any, any, any>;

/** The argument tuple of a task type. */
export type TaskArgs<T> = T extends { si(...args: infer A): unknown } ? A : unknown[];
/** The result type of a task type. */
export type TaskResult<T> = T extends { delay(...args: never[]): Promise<AsyncResult<infer R>> }
  ? R
  : unknown;

/** A prefix of a tuple's elements, each prefix length allowed. */
export type PartialArgs<A extends unknown[]> = A extends [...infer Head, unknown]
  ? A | PartialArgs<Head>
  : A;
