/**
 * Task definitions (what the registry holds) and the typed, callable handles users get back
 * from `app.task()`. Tasks are plain functions (sync or async, optionally bound to their
 * context) or classes extending {@link BaseTask} with Celery's hooks.
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ArgumentsError, type RetryRequest } from '../errors.js';
import { chunksData, mapData } from '../canvas/compose.js';
import { Signature, type AnySignature } from '../canvas/signature.js';
import type { CanvasApp } from '../canvas/types.js';
import type { AsyncResult } from './async-result.js';
import { Replace } from './replace-signal.js';
import { checkArity, inspectParams, type ParamInfo } from './params.js';
import type {
  ApplyOptions,
  ResolvedTaskOptions,
  Task,
  TaskContext,
  TaskOptions,
  TaskRequest,
} from './task-types.js';

/** Celery's task hooks (class-based tasks define them as methods). */
export interface TaskHooks {
  beforeStart?: ((ctx: TaskContext) => unknown) | undefined;
  onSuccess?: ((retval: unknown, ctx: TaskContext) => unknown) | undefined;
  onFailure?: ((error: Error, ctx: TaskContext, traceback: string) => unknown) | undefined;
  onRetry?: ((error: Error, ctx: TaskContext, traceback: string) => unknown) | undefined;
  afterReturn?: ((state: string, retval: unknown, ctx: TaskContext) => unknown) | undefined;
}

/** A registered task, untyped: what workers and the registry deal with. */
export interface TaskDefinition {
  readonly name: string;
  readonly options: ResolvedTaskOptions;
  readonly params: ParamInfo;
  readonly schema: StandardSchemaV1 | undefined;
  readonly hooks: TaskHooks;
  /** False for tasks known only by name (e.g. Python tasks): they cannot run here. */
  readonly local: boolean;
  /** Runs the body. Args are positional (kwargs already bound). */
  invoke(ctx: TaskContext, args: unknown[]): unknown;
}

/** What a task handle needs from its app. */
export interface TaskHost extends CanvasApp {
  readonly main: string;
  readonly contextStorage: AsyncLocalStorage<TaskContext>;
  send(
    def: TaskDefinition,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options: ApplyOptions,
  ): Promise<AsyncResult<unknown>>;
  applyLocal(
    def: TaskDefinition,
    args: unknown[],
    kwargs: Record<string, unknown>,
  ): Promise<AsyncResult<unknown>>;
  callDirect(def: TaskDefinition, args: unknown[]): unknown;
  /** Sends the replacement of a running task (ctx.replace); rejects with Ignore once sent. */
  replaceTask(request: TaskRequest, sig: AnySignature): Promise<unknown>;
}

/**
 * Base class of class-based tasks. Define `run`, and optionally Celery's hooks.
 * `this.request`, `this.signal`, `this.retry()` and `this.updateState()` work inside `run`
 * (each concurrent run sees its own request).
 *
 * @example
 * class Add extends BaseTask<[number, number], number> {
 *   static options = { name: 'tasks.add', maxRetries: 5 };
 *   run(x: number, y: number) { return x + y; }
 * }
 * export const add = app.task(Add);
 */
export abstract class BaseTask<A extends unknown[] = unknown[], R = unknown> {
  /** Task options; `name` is required for class-based tasks unless given to app.task(). */
  static options?: TaskOptions;
  #storage: AsyncLocalStorage<TaskContext> | undefined;

  abstract run(...args: A): R | Promise<R>;

  /** @internal Connects the instance to its app's per-run context. */
  attach(storage: AsyncLocalStorage<TaskContext>): void {
    this.#storage = storage;
  }

  /** The context of the current run. */
  get context(): TaskContext {
    const ctx = this.#storage?.getStore();
    if (!ctx) throw new Error('this.request is only available while the task runs');
    return ctx;
  }

  get request(): TaskRequest {
    return this.context.request;
  }

  get signal(): AbortSignal {
    return this.context.signal;
  }

  retry(options?: RetryRequest): never {
    return this.context.retry(options);
  }

  updateState(state: string, meta?: unknown): Promise<void> {
    return this.context.updateState(state, meta);
  }

  beforeStart?(taskId: string, args: A, kwargs: Record<string, unknown>): unknown;
  onSuccess?(retval: R, taskId: string, args: A, kwargs: Record<string, unknown>): unknown;
  onFailure?(
    exc: Error,
    taskId: string,
    args: A,
    kwargs: Record<string, unknown>,
    traceback: string,
  ): unknown;
  onRetry?(
    exc: Error,
    taskId: string,
    args: A,
    kwargs: Record<string, unknown>,
    traceback: string,
  ): unknown;
  afterReturn?(
    status: string,
    retval: unknown,
    taskId: string,
    args: A,
    kwargs: Record<string, unknown>,
  ): unknown;
}

/** Default task options (Celery's). */
export function resolveOptions(name: string, options: TaskOptions<unknown[]>): ResolvedTaskOptions {
  return {
    name,
    bind: options.bind ?? false,
    maxRetries: options.maxRetries === undefined ? 3 : options.maxRetries,
    defaultRetryDelay: options.defaultRetryDelay ?? 180,
    autoretryFor: options.autoretryFor ?? [],
    retryBackoff: options.retryBackoff ?? false,
    retryBackoffMax: options.retryBackoffMax ?? 600,
    retryJitter: options.retryJitter ?? true,
    rateLimit: options.rateLimit ?? null,
    timeLimit: options.timeLimit ?? null,
    softTimeLimit: options.softTimeLimit ?? null,
    ignoreResult: options.ignoreResult,
    acksLate: options.acksLate,
    rejectOnWorkerLost: options.rejectOnWorkerLost,
    serializer: options.serializer,
    queue: options.queue,
    priority: options.priority,
    expires: options.expires,
    trackStarted: options.trackStarted,
    typing: options.typing ?? true,
    kwargsTo: options.kwargsTo ?? 'params',
    shadow: options.shadow,
  };
}

/** Builds the definition of a function task. */
export function defineFunctionTask(
  host: TaskHost,
  fn: Function,
  options: TaskOptions<unknown[]>,
): TaskDefinition {
  const name = options.name ?? defaultName(host.main, fn.name);
  const bind = options.bind ?? false;
  const inspected = inspectParams(fn, bind ? 1 : 0);
  const params: ParamInfo = options.params
    ? { names: options.params, required: inspected.required, rest: inspected.rest }
    : inspected;
  return {
    name,
    options: resolveOptions(name, options),
    params,
    schema: options.schema,
    hooks: {},
    local: true,
    invoke(ctx, args) {
      return runReplaceable(host, ctx, () =>
        bind
          ? (fn as (c: TaskContext, ...a: unknown[]) => unknown)(ctx, ...args)
          : (fn as (...a: unknown[]) => unknown)(...args),
      );
    },
  };
}

/** Builds the definition of a class-based task. */
export function defineClassTask(
  host: TaskHost,
  instance: BaseTask<unknown[], unknown>,
  options: TaskOptions<unknown[]>,
): TaskDefinition {
  const statics = (instance.constructor as { options?: TaskOptions<unknown[]> }).options ?? {};
  const merged = { ...statics, ...options };
  const name = merged.name ?? defaultName(host.main, instance.constructor.name);
  instance.attach(host.contextStorage);
  const run = (...a: unknown[]): unknown => instance.run(...a);
  const inspected = inspectParams((Object.getPrototypeOf(instance) as { run: Function }).run);
  const params: ParamInfo = merged.params
    ? { names: merged.params, required: inspected.required, rest: inspected.rest }
    : inspected;
  const i = instance;
  return {
    name,
    options: resolveOptions(name, merged),
    params,
    schema: merged.schema,
    local: true,
    hooks: {
      beforeStart:
        i.beforeStart &&
        ((ctx) => i.beforeStart?.(ctx.request.id, ctx.request.args, ctx.request.kwargs)),
      onSuccess:
        i.onSuccess &&
        ((v, ctx) => i.onSuccess?.(v, ctx.request.id, ctx.request.args, ctx.request.kwargs)),
      onFailure:
        i.onFailure &&
        ((e, ctx, tb) =>
          i.onFailure?.(e, ctx.request.id, ctx.request.args, ctx.request.kwargs, tb)),
      onRetry:
        i.onRetry &&
        ((e, ctx, tb) => i.onRetry?.(e, ctx.request.id, ctx.request.args, ctx.request.kwargs, tb)),
      afterReturn:
        i.afterReturn &&
        ((s, v, ctx) =>
          i.afterReturn?.(s, v, ctx.request.id, ctx.request.args, ctx.request.kwargs)),
    },
    invoke(ctx, args) {
      return runReplaceable(host, ctx, () => run(...args));
    },
  };
}

/** A task known only by name (defined in Python or another service). */
export function defineRemoteTask(name: string, options: TaskOptions<unknown[]>): TaskDefinition {
  return {
    name,
    options: resolveOptions(name, { ...options, typing: false }),
    params: { names: null, required: 0, rest: true },
    schema: undefined,
    hooks: {},
    local: false,
    invoke() {
      throw new ArgumentsError(`Task ${name} is not defined in this process and cannot run here`, {
        hint: 'send it with delay() / applyAsync() so that a worker that defines it runs it',
      });
    },
  };
}

/** Wraps a definition into the callable, typed handle. */
export function makeHandle<A extends unknown[], R, Raw>(
  host: TaskHost,
  def: TaskDefinition,
): Task<A, R, Raw> {
  const handle = (...args: unknown[]): unknown => {
    if (def.options.typing) checkArity(def.name, args, def.params);
    return host.callDirect(def, args);
  };
  const methods = {
    taskName: def.name,
    options: def.options,
    delay: (...args: unknown[]) => host.send(def, args, {}, {}),
    applyAsync: (
      args?: unknown[] | null,
      kwargs?: Record<string, unknown> | null,
      options?: ApplyOptions,
    ) => host.send(def, args ?? [], kwargs ?? {}, options ?? {}),
    s: (...args: unknown[]) => new Signature({ task: def.name, args, app: host }),
    si: (...args: unknown[]) => new Signature({ task: def.name, args, immutable: true, app: host }),
    map: (it: readonly unknown[]) =>
      Signature.fromData(mapData(new Signature({ task: def.name }).toData(), it, false), host),
    starmap: (it: readonly unknown[]) =>
      Signature.fromData(mapData(new Signature({ task: def.name }).toData(), it, true), host),
    chunks: (it: readonly unknown[], n: number) =>
      Signature.fromData(chunksData(new Signature({ task: def.name }).toData(), it, n), host),
    apply: (args?: unknown[], kwargs?: Record<string, unknown>) =>
      host.applyLocal(def, args ?? [], kwargs ?? {}),
  };
  Object.defineProperty(handle, 'name', { value: def.name });
  return Object.assign(handle, methods) as unknown as Task<A, R, Raw>;
}

/**
 * Runs a task body in its context (so code it calls can find the running task), and turns
 * `ctx.replace(sig)` into the replacement being sent: the run then ends with Ignore, or,
 * when eager, with the replacement's result.
 */
function runReplaceable(host: TaskHost, ctx: TaskContext, run: () => unknown): unknown {
  const onError = (error: unknown): unknown => {
    if (error instanceof Replace) return host.replaceTask(ctx.request, error.signature);
    throw error;
  };
  let value: unknown;
  try {
    value = host.contextStorage.run(ctx, run);
  } catch (error) {
    return onError(error);
  }
  if (value instanceof Promise) return value.catch(onError);
  return value;
}

function defaultName(main: string, fnName: string): string {
  if (!fnName || fnName === 'anonymous') {
    throw new ArgumentsError('A task needs a name: this function has none', {
      hint: "pass { name: 'module.task' } as the task's options, or use a named function",
    });
  }
  return `${main}.${fnName}`;
}
