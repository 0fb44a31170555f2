/**
 * The Redis result backend, Celery's keys and commands (spec §d.1, §f.5):
 *
 * - `celery-task-meta-<id>`: SETEX (result expiry; 0 = plain SET) + PUBLISH on the key name,
 *   never over a stored SUCCESS — one Lua script for every meta stored in the same tick.
 * - waiting: one SUBSCRIBE connection for all waiters; a waiter subscribes, then reads the
 *   key (so a write between the two is not missed), then waits for the PUBLISH.
 * - groups: `celery-taskset-meta-<gid>` = `{"result": <tuple>}`; chords: `.s` size, `.j`
 *   sorted set of `[1, id, state, result]` scored by group_index, `.t`, joined with
 *   MULTI ZADD/ZCOUNT/GET/GET/EXPIRE×3 exactly as a Python worker does, so Python and
 *   TypeScript workers can finish the header tasks of the same chord.
 */
import type { Redis } from 'ioredis';
import { ClosedError, TimeoutError, toError } from '../../errors.js';
import { decodeMeta, encodeMeta } from '../../protocol/result-meta.js';
import { isReadyState } from '../../protocol/states.js';
import type { TaskMeta } from '../../protocol/types.js';
import { jsonLoads, pyDumps } from '../../serialization/json.js';
import { TickBatch } from '../../transport/redis/batch.js';
import { closeClient, RedisConnector, settleWithin } from '../../transport/redis/connection.js';
import { throwFirst } from '../../transport/redis/held.js';
import { normalizeOptions, parseRedisUrl } from '../../transport/redis/url.js';
import type { ChordJoinResult, ResultBackend, StoreOptions, WaitOptions } from '../types.js';
import { ReadyWaiters } from '../waiters.js';
import { chordKeys, chordMember, chordMemberMeta } from './chord.js';
import { STORE_METAS } from './scripts.js';
import { ChannelSubscriber } from './subscriber.js';

const TASK_PREFIX = 'celery-task-meta-';
const GROUP_PREFIX = 'celery-taskset-meta-';

/** Options of {@link createRedisBackend} (camelCase or Celery's snake_case). */
export interface RedisBackendOptions {
  /** Seconds results live (Celery's result_expires); 0 = forever. Default 86400. */
  resultExpires?: number;
  /** Seconds connect() waits for the server. Default 5. */
  connectTimeout?: number;
  /** Sentinel master name, TLS files (sslCaCerts, ...): as for the transport. */
  [option: string]: unknown;
}

interface ChangeListener {
  listener: (meta: TaskMeta) => void;
  /** The stored value it was last told of. */
  last: Buffer | undefined;
}

interface MetaWrite {
  key: string;
  value: Buffer;
  ttl: number;
}

/** The Redis result backend. Build it with {@link createRedisBackend}. */
export class RedisBackend implements ResultBackend {
  readonly kind = 'redis';
  readonly displayUrl: string;
  private readonly connector: RedisConnector;
  private readonly main: Redis;
  private readonly subscriber: ChannelSubscriber;
  private readonly waiters = new ReadyWaiters();
  private readonly listeners = new Map<string, Set<ChangeListener>>();
  private readonly writes: TickBatch<MetaWrite>;
  private readonly defaultExpires: number;
  private connecting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly errorListeners = new Set<(error: Error) => void>();

  constructor(url: string, options: RedisBackendOptions = {}) {
    const o = normalizeOptions(options);
    const endpoint = parseRedisUrl(url, o, 'resultBackend');
    this.displayUrl = endpoint.displayUrl;
    const expires = o['resultExpires'];
    this.defaultExpires = typeof expires === 'number' && expires >= 0 ? expires : 86_400;
    const timeout = typeof o['connectTimeout'] === 'number' && o['connectTimeout'] > 0 ? o['connectTimeout'] : 5;
    const name = typeof o['clientName'] === 'string' ? o['clientName'] : 'celeriac';
    this.connector = new RedisConnector(endpoint, 'backend', timeout, name);
    const onError = (error: Error): void => this.errorListeners.forEach((l) => l(error));
    this.main = this.connector.create('backend', { enableAutoPipelining: true }, onError);
    this.writes = new TickBatch((items) => this.writeMetas(items));
    this.subscriber = new ChannelSubscriber(
      this.connector,
      (channel, payload) => this.onPublished(channel, payload),
      () => void this.recheckWatched().catch(onError),
      onError,
    );
  }

  /** Listens to errors of the background connections; returns the remover. */
  onError(listener: (error: Error) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  connect(): Promise<void> {
    if (this.closing) return Promise.reject(new ClosedError('The Redis result backend'));
    this.connecting ??= this.connector.open(this.main).catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  private check(): void {
    if (this.closing) throw new ClosedError('The Redis result backend');
  }

  private ttl(options: StoreOptions | undefined): number {
    return Math.max(0, Math.round(options?.expires ?? this.defaultExpires));
  }

  async store(meta: TaskMeta, options?: StoreOptions): Promise<void> {
    this.check();
    await this.writes.add({ key: TASK_PREFIX + meta.taskId, value: encodeMeta(meta), ttl: this.ttl(options) });
  }

  private async writeMetas(items: readonly MetaWrite[]): Promise<void> {
    const args: Array<string | Buffer> = [];
    for (const item of items) args.push(String(item.ttl), item.value);
    await STORE_METAS.run(this.main, items.map((i) => i.key), args);
  }

  async get(taskId: string): Promise<TaskMeta | null> {
    this.check();
    const value = await this.main.getBuffer(TASK_PREFIX + taskId);
    return value ? decodeMeta(value) : null;
  }

  async getMany(taskIds: readonly string[]): Promise<Array<TaskMeta | null>> {
    this.check();
    if (taskIds.length === 0) return [];
    const values = await this.main.mgetBuffer(...taskIds.map((id) => TASK_PREFIX + id));
    return values.map((v) => (v ? decodeMeta(v) : null));
  }

  async waitFor(taskId: string, options: WaitOptions = {}): Promise<TaskMeta> {
    this.check();
    if (options.signal?.aborted) throw options.signal.reason;
    const channel = TASK_PREFIX + taskId;
    const done = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, done.signal]) : done.signal;
    const waiting = this.waiters.wait(taskId, { timeout: options.timeout, signal }, () => timeoutError(taskId, options.timeout));
    waiting.catch(() => undefined);
    try {
      await this.subscriber.acquire(channel);
    } catch (err) {
      done.abort();
      throw toError(err);
    }
    try {
      const current = await Promise.race([this.get(taskId), waiting]);
      if (current && isReadyState(current.status)) {
        done.abort();
        return current;
      }
      return await waiting;
    } finally {
      this.subscriber.release(channel);
    }
  }

  /**
   * Calls `listener` on every state change of the task. Once the subscription is in place the
   * stored state, if any, is read and reported too (a change made while subscribing is not
   * lost); the same stored value is never reported twice in a row.
   */
  onChange(taskId: string, listener: (meta: TaskMeta) => void): () => void {
    if (this.closing) return () => undefined;
    const channel = TASK_PREFIX + taskId;
    const entry: ChangeListener = { listener, last: undefined };
    let set = this.listeners.get(taskId);
    if (!set) this.listeners.set(taskId, (set = new Set()));
    set.add(entry);
    this.subscriber
      .acquire(channel)
      .then(async () => {
        const value = await this.main.getBuffer(channel);
        if (value && set.has(entry)) this.tell(entry, value);
      })
      .catch((err: unknown) => this.errorListeners.forEach((l) => l(toError(err))));
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
      this.errorListeners.forEach((l) => l(toError(err)));
      return;
    }
    for (const entry of [...(this.listeners.get(meta.taskId) ?? [])]) this.tell(entry, payload, meta);
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

  async forget(taskId: string): Promise<void> {
    this.check();
    await this.main.del(TASK_PREFIX + taskId);
  }

  async saveGroup(groupId: string, resultTuple: unknown, options?: StoreOptions): Promise<void> {
    this.check();
    await this.setAndPublish(GROUP_PREFIX + groupId, pyDumps({ result: resultTuple }), this.ttl(options));
  }

  async restoreGroup(groupId: string): Promise<unknown> {
    this.check();
    const value = await this.main.get(GROUP_PREFIX + groupId);
    if (value === null) return null;
    const parsed = jsonLoads(value);
    return typeof parsed === 'object' && parsed !== null && 'result' in parsed ? parsed.result : null;
  }

  async forgetGroup(groupId: string): Promise<void> {
    this.check();
    await this.main.del(GROUP_PREFIX + groupId);
  }

  async setChordSize(groupId: string, size: number, options?: StoreOptions): Promise<void> {
    this.check();
    await this.setAndPublish(chordKeys(groupId).size, String(size), this.ttl(options));
  }

  /** Celery's `set()`: MULTI SETEX (or SET) + PUBLISH on the key name. */
  private async setAndPublish(key: string, value: string, ttl: number): Promise<void> {
    const multi = this.main.multi();
    if (ttl > 0) multi.setex(key, ttl, value);
    else multi.set(key, value);
    multi.publish(key, value);
    throwFirst(await multi.exec());
  }

  async chordPartCompleted(
    groupId: string,
    groupIndex: number | null,
    meta: TaskMeta,
    options?: StoreOptions,
  ): Promise<ChordJoinResult> {
    this.check();
    const keys = chordKeys(groupId);
    const ttl = this.ttl(options);
    const multi = this.main
      .multi()
      .zadd(keys.join, groupIndex === null ? '+inf' : String(groupIndex), chordMember(meta))
      .zcount(keys.join, '-inf', '+inf')
      .get(keys.total)
      .get(keys.size);
    if (ttl > 0) multi.expire(keys.join, ttl).expire(keys.total, ttl).expire(keys.size, ttl);
    const results = await multi.exec();
    throwFirst(results);
    const [added, count, total, size] = (results ?? []).map(([, value]) => value);
    // A repeated part (a redelivered header task) adds nothing, so it cannot complete the
    // chord a second time (Python's worker would fire the body again in that case).
    const complete = size !== null && size !== undefined && Number(added) === 1 && Number(count) === Number(size) + Number(total ?? 0);
    if (!complete) return { complete: false };
    const members = await this.main.zrange(keys.join, '0', '-1');
    return { complete: true, members: members.map(chordMemberMeta) };
  }

  async chordCleanup(groupId: string): Promise<void> {
    this.check();
    const keys = chordKeys(groupId);
    throwFirst(await this.main.multi().del(keys.join).del(keys.total).del(keys.size).exec());
  }

  /** Releases waiters (ClosedError), writes what is queued, disconnects. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.waiters.close(new ClosedError('The Redis result backend'));
      this.listeners.clear();
      await settleWithin(this.writes.flush(), 3000);
      await this.subscriber.close();
      await this.connecting?.catch(() => undefined);
      await closeClient(this.main);
    })();
    return this.closing;
  }
}

function timeoutError(taskId: string, timeout: number | undefined): TimeoutError {
  return new TimeoutError(`The result of task ${taskId} did not arrive within ${timeout ?? 0} ms`, {
    hint: 'wait longer, or check that a worker consumes the task queue',
  });
}

/** Creates (does not connect) a Redis result backend for `redis://`, `rediss://` or `sentinel://`. */
export function createRedisBackend(url: string, options: RedisBackendOptions = {}): RedisBackend {
  return new RedisBackend(url, options);
}
