/**
 * One SUBSCRIBE connection shared by every waiter of a backend: channels are named like the
 * meta keys (`celery-task-meta-<id>`), as Celery's Redis backend publishes them. What one tick
 * asks for goes out in one write: the SUBSCRIBE, and on a RESP3 connection (Redis ≥ 6) the GET
 * of each new channel's key right behind it on the same connection, so the read sees every
 * store the subscription would miss and no second round trip is needed. UNSUBSCRIBEs wait
 * for the next write (or {@link UNSUBSCRIBE_DELAY_MS}): a waiter that is done costs no write of
 * its own. After a reconnect (ioredis resubscribes) the owner re-reads what it watches, since
 * publishes during the outage are lost.
 */
import type { Redis } from 'ioredis';
import { toError } from '../../errors.js';
import { closeClient, type RedisConnector } from '../../transport/redis/connection.js';
import { atEndOfTurn } from '../../util/turn.js';

/** Called with a channel and the published payload. */
export type ChannelListener = (channel: string, payload: Buffer) => void;

/** acquire()'s answer when it did not read the key: the caller reads it (after the subscription). */
export const UNREAD = Symbol('unread');

/** The value of the key read right after the subscription took effect, or {@link UNREAD}. */
export type ReadAfterSubscribe = Buffer | null | typeof UNREAD;

/** How long a released channel may stay subscribed before its UNSUBSCRIBE goes out alone. */
export const UNSUBSCRIBE_DELAY_MS = 100;
/** Released channels that make the UNSUBSCRIBE go out at once. */
const UNSUBSCRIBE_BATCH = 1000;

interface Pending {
  /** Key to GET behind the SUBSCRIBE (RESP3), or undefined. */
  readKey: string | undefined;
  resolve(value: ReadAfterSubscribe): void;
  reject(error: unknown): void;
}

/** Under RESP3 (HELLO 3 accepted) any command may follow SUBSCRIBE on the same connection. */
function speaksResp3(client: Redis): boolean {
  const condition = (client as unknown as { condition?: { protocol?: number } }).condition;
  return condition?.protocol === 3;
}

/** Reference-counted channel subscriptions on one connection. */
export class ChannelSubscriber {
  private client: Redis | undefined;
  private opening: Promise<Redis> | undefined;
  private readonly counts = new Map<string, number>();
  /** Per watched channel: resolves once the server confirmed the subscription. */
  private readonly ready = new Map<string, Promise<unknown>>();
  /** Channels to SUBSCRIBE with the next flush, and who waits for each. */
  private toSubscribe = new Map<string, Pending[]>();
  /** Released channels, unsubscribed with the next flush. */
  private toUnsubscribe = new Set<string>();
  private scheduled = false;
  private lazy: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly connector: RedisConnector,
    private readonly onMessage: ChannelListener,
    /** Called after a reconnect, once the subscriptions are back. */
    private readonly onResubscribed: () => void,
    private readonly onError: (error: Error) => void,
  ) {}

  private connection(): Promise<Redis> {
    this.opening ??= (async () => {
      const client = this.connector.create('results', { maxRetriesPerRequest: null }, this.onError);
      client.on('messageBuffer', (channel: Buffer, payload: Buffer) =>
        this.onMessage(channel.toString(), payload),
      );
      let first = true;
      client.on('ready', () => {
        if (first) {
          first = false;
          return;
        }
        // ioredis resubscribes (autoResubscribe) as it reconnects; a PING answered after those
        // SUBSCRIBEs tells they are in place. What was published meanwhile is lost: re-read.
        client.ping().then(
          () => this.onResubscribed(),
          (err: unknown) => this.onError(toError(err)),
        );
      });
      this.client = client;
      await this.connector.open(client);
      return client;
    })().catch((err: unknown) => {
      this.opening = undefined; // try again with the next subscription
      throw err;
    });
    return this.opening;
  }

  /** Watched channels. */
  channels(): string[] {
    return [...this.counts.keys()];
  }

  /**
   * Adds a reference to `channel`; resolves once the server confirmed the subscription, with
   * the value of `readKey` read right after it when the connection could do that in the same
   * write (RESP3, and this call is what subscribed), else {@link UNREAD}.
   */
  acquire(channel: string, readKey?: string): Promise<ReadAfterSubscribe> {
    this.counts.set(channel, (this.counts.get(channel) ?? 0) + 1);
    this.toUnsubscribe.delete(channel);
    const ready = this.ready.get(channel);
    if (ready) return ready.then(() => UNREAD);
    const queued = new Promise<ReadAfterSubscribe>((resolve, reject) => {
      let waiting = this.toSubscribe.get(channel);
      if (!waiting) this.toSubscribe.set(channel, (waiting = []));
      waiting.push({ readKey, resolve, reject });
    });
    queued.catch(() => undefined);
    this.ready.set(channel, queued);
    this.schedule();
    return queued;
  }

  /** Drops a reference; the last one unsubscribes (with the next write). */
  release(channel: string): void {
    const count = this.counts.get(channel) ?? 0;
    if (count > 1) {
      this.counts.set(channel, count - 1);
      return;
    }
    this.counts.delete(channel);
    this.ready.delete(channel);
    const pending = this.toSubscribe.get(channel);
    if (pending) {
      this.toSubscribe.delete(channel);
      for (const w of pending) w.resolve(UNREAD);
      return;
    }
    this.toUnsubscribe.add(channel);
    if (this.toUnsubscribe.size >= UNSUBSCRIBE_BATCH) this.schedule();
    else
      this.lazy ??= setTimeout(() => {
        this.lazy = undefined;
        this.schedule();
      }, UNSUBSCRIBE_DELAY_MS).unref();
  }

  /** The next flush, at the end of this turn of the loop (util/turn.ts). */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    atEndOfTurn(() => {
      if (!this.scheduled) return; // close() flushed already
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const subscribe = this.toSubscribe;
    this.toSubscribe = new Map();
    const unsubscribe = [...this.toUnsubscribe].filter((c) => !this.counts.has(c));
    this.toUnsubscribe = new Set();
    if (this.lazy) {
      clearTimeout(this.lazy);
      this.lazy = undefined;
    }
    if (this.closed) {
      for (const w of [...subscribe.values()].flat()) w.reject(new Error('closed'));
      return;
    }
    if (subscribe.size === 0 && unsubscribe.length === 0) return;
    try {
      const client = await this.connection();
      if (speaksResp3(client)) await this.send3(client, subscribe, unsubscribe);
      else {
        await Promise.all([
          subscribe.size > 0 ? client.subscribe(...subscribe.keys()) : undefined,
          unsubscribe.length > 0 ? client.unsubscribe(...unsubscribe) : undefined,
        ]);
        for (const w of [...subscribe.values()].flat()) w.resolve(UNREAD);
      }
    } catch (err) {
      this.onError(toError(err));
      for (const [channel, waiting] of subscribe) {
        this.ready.delete(channel);
        for (const w of waiting) w.reject(err);
      }
    }
  }

  /** One pipeline: UNSUBSCRIBE, SUBSCRIBE, then a GET per waiter that asked for one. */
  private async send3(
    client: Redis,
    subscribe: Map<string, Pending[]>,
    unsubscribe: string[],
  ): Promise<void> {
    const pipeline = client.pipeline();
    if (unsubscribe.length > 0) pipeline.unsubscribe(...unsubscribe);
    if (subscribe.size > 0) pipeline.subscribe(...subscribe.keys());
    const reads: Array<{ waiting: Pending[]; at: number }> = [];
    let at = (unsubscribe.length > 0 ? 1 : 0) + (subscribe.size > 0 ? 1 : 0);
    for (const waiting of subscribe.values()) {
      const key = waiting.find((w) => w.readKey !== undefined)?.readKey;
      if (key === undefined) continue;
      pipeline.getBuffer(key);
      reads.push({ waiting, at: at++ });
    }
    const results = (await pipeline.exec()) ?? [];
    for (const [error] of results) if (error) throw error;
    const read = new Set<Pending[]>();
    for (const { waiting, at: index } of reads) {
      const value = (results[index]?.[1] ?? null) as Buffer | null;
      for (const w of waiting) w.resolve(w.readKey === undefined ? UNREAD : value);
      read.add(waiting);
    }
    for (const waiting of subscribe.values())
      if (!read.has(waiting)) for (const w of waiting) w.resolve(UNREAD);
  }

  /** Disconnects; pending subscriptions fail. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.lazy) {
      clearTimeout(this.lazy);
      this.lazy = undefined;
    }
    this.scheduled = false;
    await this.flush();
    await this.opening?.catch(() => undefined);
    if (this.client) await closeClient(this.client);
  }
}
