/**
 * AsyncResult: a handle on a task's state and result in the result backend.
 *
 * PENDING means "no state stored": the task may be queued, not yet started (without
 * trackStarted), unknown, or its result expired or was forgotten. Use `exists()` to tell
 * "stored" from "not stored".
 */
import type { ResultBackend } from '../backend/types.js';
import type { Control, StatusReplies } from '../control/control.js';
import { TimeoutError } from '../errors.js';
import { errorFromExceptionInfo } from '../protocol/exception.js';
import { isReadyState, PROPAGATE_STATES } from '../protocol/states.js';
import type { ExceptionInfo, ResultTuple, State, TaskMeta } from '../protocol/types.js';

/** What an AsyncResult needs from its app. */
export interface ResultHost {
  backend(): Promise<ResultBackend>;
  /** Remote control, for revoke() (the app's `control`). */
  readonly control?: Pick<Control, 'revoke'>;
  /** Builds result handles from Celery's result tuples (spec §d.2), for `children()`. */
  resultFromTuple?(tuple: unknown): ResultLike | null;
}

/**
 * What AsyncResult and GroupResult (app/group-result.ts) have in common: a result's
 * `parent` (the previous chain step, a chord's header) and `children` are either.
 */
export interface ResultLike {
  readonly id: string;
  readonly parent: ResultLike | null;
  ready(): Promise<boolean>;
  successful(): Promise<boolean>;
  failed(): Promise<boolean>;
  get(options?: GetOptions): Promise<unknown>;
  forget(): Promise<void>;
  /** Celery's `as_tuple()` (spec §d.2). */
  asTuple(): ResultTuple;
}

export interface GetOptions {
  /** Seconds to wait; undefined = forever. */
  timeout?: number;
  /** Rethrow the task's error (default true). When false, the error is returned. */
  propagate?: boolean;
  /** Ignored: waiting is push-based. Kept for Celery compatibility. */
  interval?: number;
  signal?: AbortSignal;
}

/** A task's result, typed by the task's return type. */
export class AsyncResult<R = unknown> implements ResultLike {
  readonly id: string;
  /**
   * The result this one follows, when known: the previous step of a chain, or a chord's
   * header (a GroupResult). Set on results returned by applying a canvas; null otherwise.
   */
  readonly parent: ResultLike | null;
  readonly #host: ResultHost;
  #cache: TaskMeta | null = null;

  constructor(id: string, host: ResultHost, parent: ResultLike | null = null) {
    this.id = id;
    this.#host = host;
    this.parent = parent;
  }

  /** The stored meta, fresh from the backend (cached once ready). */
  async meta(): Promise<TaskMeta | null> {
    if (this.#cache && isReadyState(this.#cache.status)) return this.#cache;
    const backend = await this.#host.backend();
    this.#cache = await backend.get(this.id);
    return this.#cache;
  }

  /** The state: PENDING when nothing is stored. */
  async state(): Promise<State> {
    return (await this.meta())?.status ?? 'PENDING';
  }

  /** Alias of state(), as Celery has both. */
  status(): Promise<State> {
    return this.state();
  }

  /** True when a state is stored for this id (PENDING otherwise means unknown or not started). */
  async exists(): Promise<boolean> {
    return (await this.meta()) !== null;
  }

  async ready(): Promise<boolean> {
    return isReadyState(await this.state());
  }

  async successful(): Promise<boolean> {
    return (await this.state()) === 'SUCCESS';
  }

  async failed(): Promise<boolean> {
    return (await this.state()) === 'FAILURE';
  }

  /** The return value, the error (for failures), or the meta of a custom state; null if pending. */
  async result(): Promise<R | Error | unknown> {
    const meta = await this.meta();
    if (!meta) return null;
    return this.#value(meta);
  }

  /** Celery's `info`: same as result(). */
  info(): Promise<R | Error | unknown> {
    return this.result();
  }

  async traceback(): Promise<string | null> {
    return (await this.meta())?.traceback ?? null;
  }

  /** When the task finished (a Date), or null. */
  async dateDone(): Promise<Date | null> {
    const done = (await this.meta())?.dateDone;
    return done ? new Date(`${done}Z`) : null;
  }

  /** The ids of the tasks this one sent (callbacks, chain steps, retries), once stored. */
  async childIds(): Promise<string[]> {
    const meta = await this.meta();
    return (meta?.children ?? []).flatMap((child) => {
      const head: unknown = Array.isArray(child) ? child[0] : null;
      const id: unknown = Array.isArray(head) ? head[0] : null;
      return typeof id === 'string' ? [id] : [];
    });
  }

  /**
   * The results of what this task sent before it finished (callbacks, the chain's next
   * step, a group or chord it started, its retry), as AsyncResult / GroupResult handles.
   */
  async children(): Promise<ResultLike[]> {
    const meta = await this.meta();
    const host = this.#host;
    return (meta?.children ?? []).flatMap((child) => {
      const built = host.resultFromTuple?.(child);
      if (built) return [built];
      const head: unknown = Array.isArray(child) ? child[0] : null;
      const id: unknown = Array.isArray(head) ? head[0] : null;
      return typeof id === 'string' ? [new AsyncResult(id, host)] : [];
    });
  }

  /** Celery's `as_tuple()`: `[[id, parent tuple or null], null]`. */
  asTuple(): ResultTuple {
    return [[this.id, this.parent ? this.parent.asTuple() : null], null];
  }

  /**
   * Waits for the task to finish and returns its value. With `propagate` (default) a failed
   * or revoked task rejects with its error rebuilt (name = the Python/JS error type, message,
   * `remoteTraceback`). Rejects with TimeoutError when `timeout` seconds pass.
   */
  async get(options: GetOptions = {}): Promise<R> {
    const backend = await this.#host.backend();
    let meta: TaskMeta;
    try {
      meta = await backend.waitFor(this.id, {
        timeout: options.timeout === undefined ? undefined : options.timeout * 1000,
        signal: options.signal,
      });
    } catch (error) {
      if (error instanceof TimeoutError) {
        throw new TimeoutError(`The operation timed out waiting for task ${this.id}`, {
          cause: error,
          hint: "is a worker running and consuming the task's queue? (celeriac status, or start one with celeriac -A <module> worker)",
        });
      }
      throw error;
    }
    this.#cache = meta;
    const value = this.#value(meta);
    if (PROPAGATE_STATES.has(meta.status) && options.propagate !== false) throw value;
    return value as R;
  }

  /** Removes the stored result. */
  async forget(): Promise<void> {
    const backend = await this.#host.backend();
    this.#cache = null;
    await backend.forget(this.id);
  }

  /**
   * Revokes the task (Celery's AsyncResult.revoke): workers skip it when it arrives or is about
   * to start; with `terminate` they also stop it if it is running.
   */
  async revoke(options: Parameters<Control['revoke']>[1] = {}): Promise<StatusReplies> {
    const control = this.#host.control;
    if (!control) {
      throw new TypeError(
        'This AsyncResult has no app to revoke with; use app.AsyncResult(id).revoke()',
      );
    }
    return control.revoke(this.id, options);
  }

  toString(): string {
    return this.id;
  }

  #value(meta: TaskMeta): unknown {
    if (meta.status === 'FAILURE' || meta.status === 'REVOKED' || meta.status === 'RETRY') {
      const info = meta.result as ExceptionInfo | null;
      if (info && typeof info === 'object' && 'excType' in info) {
        return errorFromExceptionInfo(info, { taskId: this.id, traceback: meta.traceback });
      }
    }
    return meta.result;
  }
}
