/**
 * The tracer: runs one task with its context and turns whatever happens into an
 * {@link Outcome} (data, never a throw). Used by workers and by eager calls.
 */
import {
  ArgumentsError,
  Ignore,
  MaxRetriesExceededError,
  Reject,
  Retry,
  type RetryRequest,
  toError,
} from '../errors.js';
import { exponentialBackoff } from '../util/backoff.js';
import { bindKwargs, checkArity } from './params.js';
import { Replace } from './replace-signal.js';
import type { TaskDefinition } from './task.js';
import type { TaskContext, TaskRequest } from './task-types.js';

/** What running a task came to. */
export type Outcome =
  | { kind: 'success'; value: unknown; runtime: number }
  | { kind: 'failure'; error: Error; traceback: string; runtime: number }
  | {
      kind: 'retry';
      retry: RetryRequest;
      countdown: number;
      error: Error;
      traceback: string;
      runtime: number;
    }
  | { kind: 'reject'; requeue: boolean; reason: string; runtime: number }
  | { kind: 'ignore'; runtime: number };

/** Services a run needs from its caller. */
export interface TraceServices {
  signal: AbortSignal;
  /** Whether the signal is aborted, without building a lazily made signal (see LazyAbort). */
  isAborted?: () => boolean;
  updateState(state: string, meta: unknown): Promise<void>;
  /** Logs a problem in a hook (hooks never change the outcome). */
  warn(message: string, error: unknown): void;
  now(): number;
  random?: () => number;
}

/**
 * Runs `def` for `request` and reports the outcome. A task without hooks or schema whose body
 * returns a plain value is traced synchronously (no promise at all): a draining worker runs
 * thousands of those a second, and every promise costs it allocations and async hooks.
 */
export function trace(
  def: TaskDefinition,
  request: TaskRequest,
  services: TraceServices,
): Outcome | Promise<Outcome> {
  const h = def.hooks;
  if (def.schema || h.beforeStart || h.onSuccess || h.afterReturn || h.onFailure || h.onRetry)
    return traceWithHooks(def, request, services);
  const started = performance.now();
  const ctx = createContext(def, request, services);
  let args: unknown[];
  try {
    args = prepareArgs(def, request) as unknown[]; // no schema: never a promise
  } catch (error) {
    const err = toError(error);
    return { kind: 'failure', error: err, traceback: tracebackOf(err), runtime: elapsed(started) };
  }
  let returned: unknown;
  try {
    if (services.isAborted ? services.isAborted() : services.signal.aborted)
      throw services.signal.reason;
    returned = def.invoke(ctx, args);
  } catch (thrown) {
    return classify(def, request, thrown, services, elapsed(started));
  }
  if (!isThenable(returned)) return { kind: 'success', value: returned, runtime: elapsed(started) };
  return Promise.resolve(returned).then(
    (value): Outcome => ({ kind: 'success', value, runtime: elapsed(started) }),
    (thrown: unknown) => classify(def, request, thrown, services, elapsed(started)),
  );
}

/** Seconds since `started` (a performance.now()). */
function elapsed(started: number): number {
  return (performance.now() - started) / 1000;
}

/** {@link trace} of a task with hooks or an argument schema. */
async function traceWithHooks(
  def: TaskDefinition,
  request: TaskRequest,
  services: TraceServices,
): Promise<Outcome> {
  const started = performance.now();
  const runtime = (): number => elapsed(started);
  const ctx = createContext(def, request, services);
  let args: unknown[];
  try {
    const prepared = prepareArgs(def, request);
    args = Array.isArray(prepared) ? prepared : await prepared;
  } catch (error) {
    const err = toError(error);
    return { kind: 'failure', error: err, traceback: tracebackOf(err), runtime: runtime() };
  }
  try {
    if (def.hooks.beforeStart)
      await runHook(services, 'beforeStart', () => def.hooks.beforeStart?.(ctx));
    // Aborted before the body could listen (a terminate that arrived with the run, a soft
    // limit shorter than the hooks): the body would never hear of it, so it does not start.
    if (services.isAborted ? services.isAborted() : services.signal.aborted)
      throw services.signal.reason;
    const returned: unknown = def.invoke(ctx, args);
    const value: unknown = isThenable(returned) ? await returned : returned;
    const outcome: Outcome = { kind: 'success', value, runtime: runtime() };
    if (def.hooks.onSuccess)
      await runHook(services, 'onSuccess', () => def.hooks.onSuccess?.(value, ctx));
    if (def.hooks.afterReturn)
      await runHook(services, 'afterReturn', () => def.hooks.afterReturn?.('SUCCESS', value, ctx));
    return outcome;
  } catch (thrown) {
    const outcome = classify(def, request, thrown, services, runtime());
    if (outcome.kind === 'failure') {
      await runHook(services, 'onFailure', () =>
        def.hooks.onFailure?.(outcome.error, ctx, outcome.traceback),
      );
      await runHook(services, 'afterReturn', () =>
        def.hooks.afterReturn?.('FAILURE', outcome.error, ctx),
      );
    } else if (outcome.kind === 'retry') {
      await runHook(services, 'onRetry', () =>
        def.hooks.onRetry?.(outcome.error, ctx, outcome.traceback),
      );
    }
    return outcome;
  }
}

/** Binds kwargs, checks arity, and validates through the task's schema (async only then). */
function prepareArgs(def: TaskDefinition, request: TaskRequest): unknown[] | Promise<unknown[]> {
  const args =
    def.options.kwargsTo === 'context'
      ? request.args
      : bindKwargs(def.name, request.args, request.kwargs, def.params);
  if (def.options.typing) checkArity(def.name, args, def.params);
  return def.schema ? validateArgs(def, args) : args;
}

async function validateArgs(def: TaskDefinition, input: unknown[]): Promise<unknown[]> {
  let args = input;
  if (def.schema) {
    const result = await def.schema['~standard'].validate(args);
    if (result.issues) {
      const text = result.issues
        .map(
          (i) =>
            `${(i.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.') || 'args'}: ${i.message}`,
        )
        .join('; ');
      throw new ArgumentsError(`${def.name}() arguments are invalid: ${text}`);
    }
    args = result.value as unknown[];
  }
  return args;
}

function classify(
  def: TaskDefinition,
  request: TaskRequest,
  thrown: unknown,
  services: TraceServices,
  runtime: number,
): Outcome {
  if (thrown instanceof Retry) {
    const error = thrown.request.exc === undefined ? thrown : toError(thrown.request.exc);
    return {
      kind: 'retry',
      retry: thrown.request,
      countdown: retryCountdown(def, thrown.request, services.now()),
      error,
      traceback: tracebackOf(error),
      runtime,
    };
  }
  if (thrown instanceof Reject)
    return { kind: 'reject', requeue: thrown.requeue, reason: thrown.reason, runtime };
  if (thrown instanceof Ignore) return { kind: 'ignore', runtime };
  const error = toError(thrown);
  if (def.options.autoretryFor.some((cls) => error instanceof cls)) {
    const max = def.options.maxRetries;
    if (max === null || request.retries < max) {
      const countdown = def.options.retryBackoff
        ? exponentialBackoff({
            factor: typeof def.options.retryBackoff === 'number' ? def.options.retryBackoff : 1,
            retries: request.retries,
            maximum: def.options.retryBackoffMax,
            fullJitter: def.options.retryJitter,
            random: services.random,
          })
        : def.options.defaultRetryDelay;
      return {
        kind: 'retry',
        retry: { exc: error, countdown },
        countdown,
        error,
        traceback: tracebackOf(error),
        runtime,
      };
    }
  }
  return { kind: 'failure', error, traceback: tracebackOf(error), runtime };
}

function retryCountdown(def: TaskDefinition, retry: RetryRequest, now: number): number {
  if (retry.eta !== undefined) return Math.max(0, (retry.eta - now) / 1000);
  return retry.countdown ?? def.options.defaultRetryDelay;
}

/** The context a run sees (bound tasks get it as first argument). */
export function createContext(
  def: TaskDefinition,
  request: TaskRequest,
  services: TraceServices,
): TaskContext {
  return {
    name: def.name,
    request,
    get signal() {
      return services.signal;
    },
    retry(options: RetryRequest = {}): never {
      const max = options.maxRetries === undefined ? def.options.maxRetries : options.maxRetries;
      if (max !== null && request.retries >= max) {
        if (options.exc !== undefined) throw options.exc;
        throw new MaxRetriesExceededError(
          `Can't retry ${def.name}[${request.id}] args:${JSON.stringify(request.args)} kwargs:${JSON.stringify(request.kwargs)}`,
        );
      }
      throw new Retry(options);
    },
    updateState: (state, meta) => services.updateState(state, meta ?? null),
    replace(sig): never {
      throw new Replace(sig);
    },
  };
}

async function runHook(services: TraceServices, name: string, hook: () => unknown): Promise<void> {
  try {
    await hook();
  } catch (error) {
    services.warn(`Task hook ${name} failed`, error);
  }
}

/** The traceback text stored with a failure: the JS stack. */
export function tracebackOf(error: Error): string {
  return error.stack ?? `${error.name}: ${error.message}`;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
