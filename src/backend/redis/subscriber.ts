/**
 * One SUBSCRIBE connection shared by every waiter of a backend: channels are named like the
 * meta keys (`celery-task-meta-<id>`), as Celery's Redis backend publishes them. Subscribes
 * and unsubscribes of one tick go out as one command each; after a reconnect (ioredis
 * resubscribes) the owner re-reads what it watches, since publishes during the outage are lost.
 */
import type { Redis } from 'ioredis';
import { toError } from '../../errors.js';
import { closeClient, type RedisConnector } from '../../transport/redis/connection.js';

/** Called with a channel and the published payload. */
export type ChannelListener = (channel: string, payload: Buffer) => void;

/** Reference-counted channel subscriptions on one connection. */
export class ChannelSubscriber {
  private client: Redis | undefined;
  private opening: Promise<Redis> | undefined;
  private readonly counts = new Map<string, number>();
  /** Per watched channel: resolves once the server confirmed the subscription. */
  private readonly ready = new Map<string, Promise<void>>();
  /** Channels to SUBSCRIBE with the next flush. */
  private toSubscribe = new Map<string, { resolve(): void; reject(e: unknown): void }>();
  private toUnsubscribe = new Set<string>();
  private scheduled: NodeJS.Immediate | undefined;
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

  /** Adds a reference to `channel`; resolves once the server confirmed the subscription. */
  acquire(channel: string): Promise<void> {
    this.counts.set(channel, (this.counts.get(channel) ?? 0) + 1);
    this.toUnsubscribe.delete(channel);
    let ready = this.ready.get(channel);
    if (!ready) {
      ready = new Promise<void>((resolve, reject) =>
        this.toSubscribe.set(channel, { resolve, reject }),
      );
      ready.catch(() => undefined);
      this.ready.set(channel, ready);
      this.schedule();
    }
    return ready;
  }

  /** Drops a reference; the last one unsubscribes. */
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
      pending.resolve();
    } else {
      this.toUnsubscribe.add(channel);
      this.schedule();
    }
  }

  private schedule(): void {
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const subscribe = this.toSubscribe;
    this.toSubscribe = new Map();
    const unsubscribe = [...this.toUnsubscribe].filter((c) => !this.counts.has(c));
    this.toUnsubscribe = new Set();
    if (this.closed) {
      for (const w of subscribe.values()) w.reject(new Error('closed'));
      return;
    }
    try {
      const client = await this.connection();
      await Promise.all([
        subscribe.size > 0 ? client.subscribe(...subscribe.keys()) : undefined,
        unsubscribe.length > 0 ? client.unsubscribe(...unsubscribe) : undefined,
      ]);
      for (const w of subscribe.values()) w.resolve();
    } catch (err) {
      this.onError(toError(err));
      for (const [channel, w] of subscribe) {
        if (this.ready.get(channel) !== undefined) this.ready.delete(channel);
        w.reject(err);
      }
    }
  }

  /** Disconnects; pending subscriptions fail. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.scheduled) {
      clearImmediate(this.scheduled);
      this.scheduled = undefined;
      await this.flush();
    }
    await this.opening?.catch(() => undefined);
    if (this.client) await closeClient(this.client);
  }
}
