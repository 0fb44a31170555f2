/**
 * The transport's background duties while it has consumers:
 *
 * - restore pass (kombu's restore_visible, spec §b.5): under `unacked_mutex` (SET NX PX,
 *   released with redis-py's script), messages whose `unacked_index` score is older than the
 *   visibility timeout go back to the consuming end of their queue (RPUSH) with kombu's
 *   redelivered flags; so do the hand-off lists of consumers not seen for
 *   `handOffStaleAfter` (handoff.ts). Runs when the first consumer starts and every
 *   `restoreInterval`.
 * - touch: held deliveries get a fresh `unacked_index` score every `touchInterval`, so the
 *   restore passes of other workers (Python's included) leave a live worker's tasks alone.
 * - promoter: due deferred messages move from `celeriac.delayed` to their list, at the
 *   due time of the earliest one (a timer) and every `delayedSweepInterval` (for messages
 *   deferred by processes that went away).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { toError } from '../../errors.js';
import {
  markRedelivered,
  parseUnackedValue,
  parseUnreadableUnacked,
} from '../../protocol/kombu-envelope.js';
import { queuesFor } from './bindings.js';
import { returnHandOffs } from './handoff.js';
import { REDELIVERY_COUNT_TTL } from './held.js';
import { KOMBU_DEADLETTER_QUEUE, type KeyLayout } from './keys.js';
import type { RedisTransportSettings } from './options.js';
import type { Publisher } from './publisher.js';
import { PROMOTE, RELEASE_MUTEX, RESTORE } from './scripts.js';

/** Longest setTimeout Node accepts. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Deferred messages promoted per script call. */
const PROMOTE_BATCH = 200;

/** What the maintenance needs from the transport. */
export interface MaintenanceHost {
  main: Redis;
  layout: KeyLayout;
  settings: RedisTransportSettings;
  publisher: Publisher;
  /** Tags of every delivery handed out by this transport and not settled. */
  heldTags(): string[];
  /** Deferred messages were moved to their lists: idle local consumers should look. */
  onPromoted(): void;
  onError(error: Error): void;
}

/** Restore passes, touches and promotions of one transport. */
export class Maintenance {
  private timers: NodeJS.Timeout[] = [];
  private promoteTimer: NodeJS.Timeout | undefined;
  private promoteAt: number | undefined;
  private promoting: Promise<void> | undefined;
  private promoteAgain = false;
  private closed = false;

  constructor(private readonly host: MaintenanceHost) {}

  /** Starts the periodic duties (first consumer); runs a restore pass and a promotion now. */
  start(): void {
    if (this.closed || this.timers.length > 0) return;
    const s = this.host.settings;
    const every = (seconds: number, fn: () => Promise<unknown>): void => {
      const timer = setInterval(
        () => void fn().catch((err: unknown) => this.host.onError(toError(err))),
        seconds * 1000,
      );
      timer.unref();
      this.timers.push(timer);
    };
    every(s.restoreInterval, () => this.restoreStale());
    every(s.touchInterval, () => this.touchHeld());
    every(s.delayedSweepInterval, () => this.promote());
    void this.restoreStale().catch((err: unknown) => this.host.onError(toError(err)));
    void this.promote().catch((err: unknown) => this.host.onError(toError(err)));
  }

  /** Stops the periodic duties (last consumer gone). Promotions already scheduled still run. */
  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  /** Refreshes the `unacked_index` score of every held delivery (one ZADD XX). */
  async touchHeld(): Promise<void> {
    const tags = this.host.heldTags();
    if (tags.length === 0) return;
    const now = (Date.now() / 1000).toFixed(6);
    const args: string[] = [];
    for (const tag of tags) args.push(now, tag);
    await this.host.main.zadd(this.host.layout.unackedIndex, 'XX', ...args);
  }

  /**
   * One restore pass, compatible with kombu's: returns how many messages went back, or 0
   * when another process holds the mutex.
   */
  async restoreStale(): Promise<number> {
    const { main, layout, settings } = this.host;
    const token = randomUUID().replace(/-/g, '');
    const got = await main.set(
      layout.unackedMutex,
      token,
      'PX',
      Math.round(settings.unackedMutexExpire * 1000),
      'NX',
    );
    if (got !== 'OK') return 0;
    let total = 0;
    try {
      const tables = new Map<string, string[]>();
      for (let round = 0; round < 100 && !this.closed; round++) {
        const cutoff = Date.now() / 1000 - settings.visibilityTimeout;
        const tags = await main.zrevrangebyscore(
          layout.unackedIndex,
          cutoff,
          0,
          'LIMIT',
          0,
          settings.unackedRestoreLimit,
        );
        if (tags.length === 0) break;
        const values = await main.hmget(layout.unacked, ...tags);
        const args: string[] = ['stale', String(cutoff), 'R', String(REDELIVERY_COUNT_TTL)];
        for (let i = 0; i < tags.length; i++) {
          const target = await this.restoreTarget(values[i] ?? null, tables);
          if (target) args.push(tags[i]!, target.key, target.payload);
          else if (values[i] === null) args.push(tags[i]!, '', '');
        }
        total += Number(
          await RESTORE.run(main, [layout.unacked, layout.unackedIndex, layout.redeliveries], args),
        );
        if (tags.length < settings.unackedRestoreLimit) break;
      }
      // Hand-off lists of consumers that went away (handoff.ts).
      total += await returnHandOffs(
        main,
        layout,
        undefined,
        Date.now() / 1000 - settings.handOffStaleAfter,
      );
    } finally {
      await RELEASE_MUTEX.run(main, [layout.unackedMutex], [token]);
    }
    return total;
  }

  /** Where kombu's restore puts an `unacked` value back (its `_lookup` + priority), marked redelivered. */
  private async restoreTarget(
    value: string | null,
    tables: Map<string, string[]>,
  ): Promise<{ key: string; payload: string } | undefined> {
    if (value === null) return undefined;
    const { layout, main, publisher } = this.host;
    let entry;
    try {
      entry = parseUnackedValue(value);
    } catch (err) {
      // A list item that was not a JSON object goes back as it was (the claim moves it aside).
      const unreadable = parseUnreadableUnacked(value);
      if (unreadable?.routingKey && unreadable.exchange === '')
        return { key: layout.queueKey(unreadable.routingKey), payload: unreadable.raw };
      this.host.onError(toError(err));
      return undefined;
    }
    // kombu's _lookup: the default exchange routes to the queue named by the routing key, or
    // to kombu's dead-letter queue when there is none (never to the Redis key "").
    let queue = entry.routingKey || KOMBU_DEADLETTER_QUEUE;
    if (entry.exchange !== '') {
      let table = tables.get(entry.exchange);
      if (!table) {
        table = await main.smembers(layout.bindingKey(entry.exchange));
        tables.set(entry.exchange, table);
      }
      const type = publisher.exchangeTypes.get(entry.exchange) ?? 'direct';
      const queues = queuesFor(layout, table, type, entry.routingKey);
      if (queues.length === 0) return undefined;
      queue = queues[0]!;
    }
    const props = entry.envelope['properties'];
    const priority =
      typeof props === 'object' && props !== null
        ? (props as Record<string, unknown>)['priority']
        : undefined;
    return {
      key: layout.queueKey(queue, typeof priority === 'number' ? priority : 0),
      payload: markRedelivered(entry.envelope),
    };
  }

  /** Promotes due deferred messages now, and schedules the next promotion. */
  promote(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.promoting) {
      this.promoteAgain = true;
      return this.promoting;
    }
    this.promoting = (async () => {
      try {
        do {
          this.promoteAgain = false;
          const { main, layout } = this.host;
          const reply = (await PROMOTE.run(
            main,
            [layout.delayed, layout.delayedMessages],
            [String(Date.now()), PROMOTE_BATCH],
          )) as [number, string];
          const moved = Number(reply[0]);
          if (moved > 0) this.host.onPromoted();
          if (moved >= PROMOTE_BATCH) this.promoteAgain = true;
          else if (reply[1] !== '') this.schedulePromote(Number(reply[1]));
        } while (this.promoteAgain && !this.closed);
      } finally {
        this.promoting = undefined;
      }
    })();
    return this.promoting;
  }

  /** Makes sure a promotion runs at `dueAt` (epoch ms) or earlier. */
  schedulePromote(dueAt: number): void {
    if (this.closed) return;
    if (this.promoteAt !== undefined && this.promoteAt <= dueAt) return;
    if (this.promoteTimer) clearTimeout(this.promoteTimer);
    this.promoteAt = dueAt;
    this.promoteTimer = setTimeout(
      () => {
        this.promoteTimer = undefined;
        this.promoteAt = undefined;
        void this.promote().catch((err: unknown) => this.host.onError(toError(err)));
      },
      Math.min(MAX_TIMER_MS, Math.max(0, dueAt - Date.now())),
    );
    this.promoteTimer.unref();
  }

  /** Stops everything; waits for a promotion in flight. */
  async close(): Promise<void> {
    this.closed = true;
    this.stop();
    if (this.promoteTimer) clearTimeout(this.promoteTimer);
    this.promoteTimer = undefined;
    await this.promoting?.catch(() => undefined);
  }
}
