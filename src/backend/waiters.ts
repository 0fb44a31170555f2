/**
 * Bookkeeping for `waitFor` and `onChange` shared by the embedded backends: who waits for
 * which task, with timeouts and abort signals, released on close.
 */
import type { TaskMeta } from '../protocol/types.js';
import type { WaitOptions } from './types.js';

/** Celery's READY_STATES. */
export function isReadyState(status: string): boolean {
  return status === 'SUCCESS' || status === 'FAILURE' || status === 'REVOKED';
}

interface Waiter {
  resolve(meta: TaskMeta): void;
  reject(error: unknown): void;
}

/** Waiters for ready metas and change listeners, keyed by task id. */
export class ReadyWaiters {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly listeners = new Map<string, Set<(meta: TaskMeta) => void>>();
  private closedWith: unknown = undefined;

  /** @param onActivity called when the first watcher arrives (true) or the last leaves (false). */
  constructor(private readonly onActivity: (active: boolean) => void = () => undefined) {}

  /** True while anyone waits or listens. */
  get active(): boolean {
    return this.waiters.size > 0 || this.listeners.size > 0;
  }

  /** Every task id someone waits for or listens to. */
  taskIds(): IterableIterator<string> {
    return new Set([...this.waiters.keys(), ...this.listeners.keys()]).values();
  }

  /** Is anyone interested in this task? */
  has(taskId: string): boolean {
    return this.waiters.has(taskId) || this.listeners.has(taskId);
  }

  /** Waits for a ready meta of `taskId` (delivered through {@link notify}). */
  wait(taskId: string, options: WaitOptions, makeTimeoutError: () => Error): Promise<TaskMeta> {
    return this.register(taskId, options, makeTimeoutError).promise;
  }

  /**
   * {@link wait}, with a `cancel` that ends the wait without settling it (the caller found the
   * meta some other way): no AbortController per wait.
   */
  register(
    taskId: string,
    options: WaitOptions,
    makeTimeoutError: () => Error,
  ): { promise: Promise<TaskMeta>; cancel(): void } {
    if (this.closedWith !== undefined)
      return { promise: Promise.reject(this.closedWith), cancel: () => undefined };
    const { signal, timeout } = options;
    if (signal?.aborted) return { promise: Promise.reject(signal.reason), cancel: () => undefined };
    let cancel: () => void = () => undefined;
    const promise = new Promise<TaskMeta>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.remove(this.waiters, taskId, waiter);
      };
      const waiter: Waiter = {
        resolve: (meta) => {
          done();
          resolve(meta);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      const onAbort = (): void => waiter.reject(signal?.reason);
      if (timeout !== undefined)
        timer = setTimeout(() => waiter.reject(makeTimeoutError()), Math.max(0, timeout));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.add(this.waiters, taskId, waiter);
      cancel = done;
    });
    return { promise, cancel };
  }

  /** Calls `listener` on every change of `taskId`; returns the unsubscribe (idempotent). */
  listen(taskId: string, listener: (meta: TaskMeta) => void): () => void {
    if (this.closedWith !== undefined) return () => undefined;
    const own = (meta: TaskMeta): void => listener(meta);
    this.add(this.listeners, taskId, own);
    return () => this.remove(this.listeners, taskId, own);
  }

  /** A meta was stored: tell the listeners, and resolve the waiters if it is ready. */
  notify(meta: TaskMeta): void {
    for (const listener of [...(this.listeners.get(meta.taskId) ?? [])]) {
      try {
        listener(meta);
      } catch {
        // A listener's failure is its own; the others still hear of the change.
      }
    }
    if (!isReadyState(meta.status)) return;
    for (const waiter of [...(this.waiters.get(meta.taskId) ?? [])]) waiter.resolve(meta);
  }

  /** Rejects every current waiter with `error` (the store failed); listeners stay. */
  failAll(error: unknown): void {
    for (const waiter of [...this.waiters.values()].flatMap((s) => [...s])) waiter.reject(error);
  }

  /** Rejects every waiter with `error`, drops the listeners; later waits reject at once. */
  close(error: Error): void {
    this.closedWith = error;
    const all = [...this.waiters.values()].flatMap((s) => [...s]);
    this.listeners.clear();
    for (const waiter of all) waiter.reject(error);
    this.waiters.clear();
    this.onActivity(false);
  }

  private add<T>(map: Map<string, Set<T>>, key: string, value: T): void {
    const wasActive = this.active;
    let set = map.get(key);
    if (!set) {
      set = new Set();
      map.set(key, set);
    }
    set.add(value);
    if (!wasActive) this.onActivity(true);
  }

  private remove<T>(map: Map<string, Set<T>>, key: string, value: T): void {
    const set = map.get(key);
    if (!set?.delete(value)) return;
    if (set.size === 0) map.delete(key);
    if (!this.active && this.closedWith === undefined) this.onActivity(false);
  }
}
