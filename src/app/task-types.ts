/**
 * The public types of tasks: options, the request a running task sees, its context, and the
 * typed handle `app.task()` returns.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { RetryRequest } from '../errors.js';
import type { ApplyOptions } from '../canvas/options.js';
import type { AnySignature, Signature } from '../canvas/signature.js';
import type { CompleteInput, Head, PartialArgs, Tail } from '../canvas/types.js';
import type { SignatureData } from '../protocol/types.js';
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
  /** Remaining chain steps, reversed (the next step is last); null when not in a chain. */
  chain?: SignatureData[] | null;
  /** Link callbacks. */
  callbacks?: SignatureData[] | null;
  /** Link errbacks. */
  errbacks?: SignatureData[] | null;
  /** The chord body this task is a header task of. */
  chord?: SignatureData | null;
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
  /**
   * Replace this task with a signature or canvas (Celery's `Task.replace`): it is sent with
   * this task's id, callbacks, errbacks, chord and remaining chain, and this run ends without
   * storing a result. Use as `return ctx.replace(sig)`.
   */
  replace(sig: AnySignature): never;
}

/** Options of one call (Celery's apply_async options); defined with the canvas. */
export type { ApplyOptions } from '../canvas/options.js';

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
  /** A signature with every argument: complete, it cannot take a previous result. */
  s(...args: A): Signature<R, CompleteInput<A>, 'single'>;
  /**
   * A signature without its first argument(s): in a chain (or as a callback) the previous
   * result is prepended, so `mul.s(4)` after a step returning 6 runs `mul(6, 4)`.
   */
  s(...args: PartialArgs<Tail<A>>): Signature<R, Head<A>, 'single'>;
  /** An immutable signature: the parent's result is not passed. */
  si(...args: A): Signature<R, unknown, 'single'>;
  /** `[task(x) for x in it]` in one task (Celery's `task.map`). */
  map(it: readonly Head<A>[]): Signature<R[], never, 'single'>;
  /** `[task(...x) for x in it]` in one task (Celery's `task.starmap`). */
  starmap(it: readonly A[]): Signature<R[], never, 'single'>;
  /** The calls cut in chunks of `n`, one task per chunk, run as a group (Celery's `task.chunks`). */
  chunks(it: readonly A[], n: number): Signature<R[][], never, 'group'>;
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
export type { PartialArgs } from '../canvas/types.js';
