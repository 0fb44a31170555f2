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
import { ClosedError } from '../../errors.js';
import { decodeMeta, encodeMetaString } from '../../protocol/result-meta.js';
import type { TaskMeta } from '../../protocol/types.js';
import { jsonLoads, pyDumps } from '../../serialization/json.js';
import { TickBatch } from '../../transport/redis/batch.js';
import { closeClient, RedisConnector, settleWithin } from '../../transport/redis/connection.js';
import { throwFirst } from '../../transport/redis/held.js';
import { normalizeOptions, parseRedisUrl } from '../../transport/redis/url.js';
import type { ChordJoinResult, ResultBackend, StoreOptions, WaitOptions } from '../types.js';
import { chordKeys, chordMember, chordMemberMeta } from './chord.js';
import { STORE_METAS } from './scripts.js';
import { ResultWatch } from './watch.js';

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

interface MetaWrite {
  key: string;
  /** The meta JSON (ASCII: Python's ensure_ascii), as a string: ioredis writes strings 2-3× cheaper than Buffers. */
  value: string;
  ttl: number;
}

/** The Redis result backend. Build it with {@link createRedisBackend}. */
export class RedisBackend implements ResultBackend {
  readonly kind = 'redis';
  readonly displayUrl: string;
  private readonly connector: RedisConnector;
  private readonly main: Redis;
  private readonly watch: ResultWatch;
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
    const timeout =
      typeof o['connectTimeout'] === 'number' && o['connectTimeout'] > 0 ? o['connectTimeout'] : 5;
    const name = typeof o['clientName'] === 'string' ? o['clientName'] : 'celeriac';
    this.connector = new RedisConnector(endpoint, 'backend', timeout, name);
    const onError = (error: Error): void => this.errorListeners.forEach((l) => l(error));
    this.main = this.connector.create('backend', { enableAutoPipelining: true }, onError);
    this.writes = new TickBatch((items) => this.writeMetas(items));
    this.watch = new ResultWatch(this.connector, this.main, onError);
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

  store(meta: TaskMeta, options?: StoreOptions): Promise<void> {
    // Not async: one promise per store (the batch's), not three; errors still reject.
    let value: string;
    try {
      this.check();
      value = encodeMetaString(meta);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.writes.add({ key: TASK_PREFIX + meta.taskId, value, ttl: this.ttl(options) });
  }

  private async writeMetas(items: readonly MetaWrite[]): Promise<void> {
    const args: string[] = [];
    for (const item of items) args.push(String(item.ttl), item.value);
    await STORE_METAS.run(
      this.main,
      items.map((i) => i.key),
      args,
    );
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
    return this.watch.waitFor(taskId, options);
  }

  /**
   * Calls `listener` on every state change of the task, starting with the stored state once
   * the subscription is in place; the same stored value is never reported twice in a row.
   */
  onChange(taskId: string, listener: (meta: TaskMeta) => void): () => void {
    if (this.closing) return () => undefined;
    return this.watch.onChange(taskId, listener);
  }

  async forget(taskId: string): Promise<void> {
    this.check();
    await this.main.del(TASK_PREFIX + taskId);
  }

  async saveGroup(groupId: string, resultTuple: unknown, options?: StoreOptions): Promise<void> {
    this.check();
    await this.setAndPublish(
      GROUP_PREFIX + groupId,
      pyDumps({ result: resultTuple }),
      this.ttl(options),
    );
  }

  async restoreGroup(groupId: string): Promise<unknown> {
    this.check();
    const value = await this.main.get(GROUP_PREFIX + groupId);
    if (value === null) return null;
    const parsed = jsonLoads(value);
    return typeof parsed === 'object' && parsed !== null && 'result' in parsed
      ? parsed.result
      : null;
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
    const complete =
      size !== null &&
      size !== undefined &&
      Number(added) === 1 &&
      Number(count) === Number(size) + Number(total ?? 0);
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
      this.watch.release(new ClosedError('The Redis result backend'));
      await settleWithin(this.writes.flush(), 3000);
      await this.watch.close();
      await this.connecting?.catch(() => undefined);
      await closeClient(this.main);
    })();
    return this.closing;
  }
}

/** Creates (does not connect) a Redis result backend for `redis://`, `rediss://` or `sentinel://`. */
export function createRedisBackend(url: string, options: RedisBackendOptions = {}): RedisBackend {
  return new RedisBackend(url, options);
}
