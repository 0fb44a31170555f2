/**
 * Waiting for results on Redis: one SUBSCRIBE connection (subscriber.ts) shared by every
 * waiter and change listener of a backend. A waiter subscribes to the meta key's channel,
 * then reads the key (so a store between the two is not missed), then waits for the PUBLISH
 * Celery's backend sends with every store. After a reconnect the watched keys are re-read.
 */
import type { Redis } from 'ioredis';
import { TimeoutError, toError } from '../../errors.js';
import { decodeMeta } from '../../protocol/result-meta.js';
import { isReadyState } from '../../protocol/states.js';
import type { TaskMeta } from '../../protocol/types.js';
import type { RedisConnector } from '../../transport/redis/connection.js';
import type { WaitOptions } from '../types.js';
import { ReadyWaiters } from '../waiters.js';
import { ChannelSubscriber, UNREAD } from './subscriber.js';

const TASK_PREFIX = 'celery-task-meta-';

interface ChangeListener {
  listener: (meta: TaskMeta) => void;
  /** The stored value it was last told of. */
  last: Buffer | undefined;
}

/** Waiters and change listeners of one backend. */
export class ResultWatch {
  private readonly subscriber: ChannelSubscriber;
  private readonly waiters = new ReadyWaiters();
  private readonly listeners = new Map<string, Set<ChangeListener>>();

  constructor(
    connector: RedisConnector,
    private readonly main: Redis,
    private readonly onError: (error: Error) => void,
  ) {
    this.subscriber = new ChannelSubscriber(
      connector,
      (channel, payload) => this.onPublished(channel, payload),
      () => void this.recheckWatched().catch(onError),
      onError,
    );
  }

  /** Resolves with the meta once it is ready (SUCCESS, FAILURE, REVOKED). */
  async waitFor(taskId: string, options: WaitOptions = {}): Promise<TaskMeta> {
    if (options.signal?.aborted) throw options.signal.reason;
    const key = TASK_PREFIX + taskId;
    const waiting = this.waiters.register(taskId, options, () =>
      timeoutError(taskId, options.timeout),
    );
    waiting.promise.catch(() => undefined);
    try {
      // Subscribed first, then read, so that a store between the two is not missed. On RESP3
      // the read rides in the subscription's write; on RESP2 it is a GET of its own.
      let value = await Promise.race([this.subscriber.acquire(key, key), waiting.promise]);
      if (value === UNREAD) value = await Promise.race([this.main.getBuffer(key), waiting.promise]);
      if (isMeta(value)) return value; // the PUBLISH came first
      if (value !== null) {
        const current = decodeMeta(value);
        if (isReadyState(current.status)) return current;
      }
      return await waiting.promise;
    } finally {
      waiting.cancel(); // a no-op once the wait is settled
      this.subscriber.release(key);
    }
  }

  /**
   * Calls `listener` on every state change of the task. Once the subscription is in place the
   * stored state, if any, is read and reported too (a change made while subscribing is not
   * lost); the same stored value is never reported twice in a row.
   */
  onChange(taskId: string, listener: (meta: TaskMeta) => void): () => void {
    const channel = TASK_PREFIX + taskId;
    const entry: ChangeListener = { listener, last: undefined };
    let set = this.listeners.get(taskId);
    if (!set) this.listeners.set(taskId, (set = new Set()));
    set.add(entry);
    this.subscriber
      .acquire(channel, channel)
      .then(async (read) => {
        const value = read === UNREAD ? await this.main.getBuffer(channel) : read;
        if (value && set.has(entry)) this.tell(entry, value);
      })
      .catch((err: unknown) => this.onError(toError(err)));
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      set.delete(entry);
      if (set.size === 0 && this.listeners.get(taskId) === set) this.listeners.delete(taskId);
      this.subscriber.release(channel);
    };
  }

  /** Reports a stored value to one change listener, unless it is the one it saw last. */
  private tell(entry: ChangeListener, value: Buffer, meta?: TaskMeta): void {
    if (entry.last?.equals(value)) return;
    entry.last = value;
    try {
      entry.listener(meta ?? decodeMeta(value));
    } catch {
      // A listener's failure is its own; the others still hear of the change.
    }
  }

  private onPublished(channel: string, payload: Buffer): void {
    if (!channel.startsWith(TASK_PREFIX)) return;
    let meta: TaskMeta;
    try {
      meta = decodeMeta(payload);
    } catch (err) {
      this.onError(toError(err));
      return;
    }
    for (const entry of [...(this.listeners.get(meta.taskId) ?? [])])
      this.tell(entry, payload, meta);
    this.waiters.notify(meta);
  }

  /** After the subscriber reconnected: what was stored meanwhile was published to no one. */
  private async recheckWatched(): Promise<void> {
    const channels = this.subscriber.channels();
    for (let i = 0; i < channels.length; i += 500) {
      const slice = channels.slice(i, i + 500);
      const values = await this.main.mgetBuffer(...slice);
      values.forEach((value, j) => {
        if (value) this.onPublished(slice[j]!, value);
      });
    }
  }

  /** Rejects every waiter with `error` and drops the listeners. */
  release(error: Error): void {
    this.waiters.close(error);
    this.listeners.clear();
  }

  /** Disconnects the subscriber. */
  close(): Promise<void> {
    return this.subscriber.close();
  }
}

function isMeta(value: Buffer | TaskMeta | null): value is TaskMeta {
  return value !== null && !Buffer.isBuffer(value);
}

function timeoutError(taskId: string, timeout: number | undefined): TimeoutError {
  return new TimeoutError(`The result of task ${taskId} did not arrive within ${timeout ?? 0} ms`, {
    hint: 'wait longer, or check that a worker consumes the task queue',
  });
}
