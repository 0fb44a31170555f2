/**
 * Fanout exchanges on Redis (spec §b.6): PUBLISH on `/{db}.{exchange}/{routing key}`, and
 * PSUBSCRIBE with the binding key's `#` turned into `*`, on one subscriber connection per
 * transport. Like kombu, a subscription also records its (virtual) queue in
 * `_kombu.binding.<exchange>` and removes it, with the queue's list keys, when it closes.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { toError } from '../../errors.js';
import { decodeEnvelope } from '../../protocol/kombu-envelope.js';
import type { FanoutHandler, Subscription } from '../types.js';
import { closeClient, type RedisConnector } from './connection.js';
import type { KeyLayout } from './keys.js';

interface Entry {
  handler: FanoutHandler;
}

/** The PSUBSCRIBE side of one transport. */
export class FanoutHub {
  private client: Redis | undefined;
  private opening: Promise<Redis> | undefined;
  private readonly byPattern = new Map<string, Set<Entry>>();
  private readonly subscriptions = new Set<Subscription>();

  constructor(
    private readonly connector: RedisConnector,
    private readonly layout: KeyLayout,
    /** Commands (SADD/SREM/DEL) go through the transport's main connection. */
    private readonly main: Redis,
    private readonly onError: (error: Error) => void,
  ) {}

  private connection(): Promise<Redis> {
    this.opening ??= (async () => {
      const client = this.connector.create('fanout', { maxRetriesPerRequest: null }, this.onError);
      client.on('pmessageBuffer', (pattern: Buffer, _channel: Buffer, payload: Buffer) =>
        this.dispatch(pattern.toString(), payload),
      );
      this.client = client;
      await this.connector.open(client);
      return client;
    })().catch((err: unknown) => {
      this.opening = undefined; // try again with the next subscription
      throw err;
    });
    return this.opening;
  }

  private dispatch(pattern: string, payload: Buffer): void {
    const entries = this.byPattern.get(pattern);
    if (!entries || entries.size === 0) return;
    let decoded;
    try {
      decoded = decodeEnvelope(payload);
    } catch (err) {
      this.onError(toError(err));
      return;
    }
    for (const entry of [...entries]) {
      try {
        entry.handler(decoded.message, decoded.routingKey);
      } catch (err) {
        this.onError(toError(err));
      }
    }
  }

  /**
   * Subscribes `handler` to `exchange` messages matching `bindingKey`. `queue` is the name
   * recorded in the binding set (Celery: `celeryev.<uuid>`, `<node>.celery.pidbox`).
   */
  async subscribe(
    exchange: string,
    bindingKey: string,
    handler: FanoutHandler,
    queue?: string,
  ): Promise<Subscription> {
    const client = await this.connection();
    const pattern = this.layout.subscribePattern(exchange, bindingKey);
    const queueName = queue ?? `${exchange}.${randomUUID()}`;
    const member = this.layout.bindingMember(bindingKey, '', queueName);
    const entry: Entry = { handler };
    let entries = this.byPattern.get(pattern);
    const first = !entries;
    if (!entries) {
      entries = new Set();
      this.byPattern.set(pattern, entries);
    }
    entries.add(entry);
    await this.main.sadd(this.layout.bindingKey(exchange), member);
    if (first) await client.psubscribe(pattern);
    let closing: Promise<void> | undefined;
    const subscription: Subscription = {
      close: () => {
        closing ??= (async () => {
          this.subscriptions.delete(subscription);
          const set = this.byPattern.get(pattern);
          set?.delete(entry);
          if (set && set.size === 0) {
            this.byPattern.delete(pattern);
            if (client.status === 'ready') await client.punsubscribe(pattern);
          }
          const pipe = this.main.pipeline().srem(this.layout.bindingKey(exchange), member);
          for (const key of this.layout.queueKeys(queueName)) pipe.del(key);
          await pipe.exec();
        })();
        return closing;
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** PUBLISH an envelope on the exchange's channel for `routingKey`. */
  async publish(exchange: string, routingKey: string, envelope: string): Promise<void> {
    await this.main.publish(this.layout.publishChannel(exchange, routingKey), envelope);
  }

  /** Closes every subscription (removing their bindings) and the subscriber connection. */
  async close(): Promise<void> {
    await Promise.all(
      [...this.subscriptions].map((s) =>
        s.close().catch((err: unknown) => this.onError(toError(err))),
      ),
    );
    await this.opening?.catch(() => undefined);
    if (this.client) await closeClient(this.client);
  }
}
