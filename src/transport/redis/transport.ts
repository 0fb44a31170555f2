/**
 * The Redis transport: kombu's layout to the byte (spec §b), so Python Celery workers and
 * clients share our queues. Connections: one for commands (publishes, acks, scripts), one
 * per consumer (claims; blocking-free), one PSUBSCRIBE connection for fanout, one for
 * wake-up invalidations.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ClosedError, toError } from '../../errors.js';
import { encodeEnvelope } from '../../protocol/kombu-envelope.js';
import type { WireMessage } from '../../protocol/types.js';
import type {
  ConsumeOptions,
  FanoutHandler,
  PublishOptions,
  QueueSpec,
  Route,
  SubscribeOptions,
  Subscription,
  Transport,
  TransportCapabilities,
} from '../types.js';
import { CLOSE_GRACE_MS, closeClient, RedisConnector, settleWithin } from './connection.js';
import { RedisConsumer } from './consumer.js';
import { FanoutHub } from './fanout.js';
import { HeldMessages } from './held.js';
import { KeyLayout } from './keys.js';
import { Maintenance } from './maintenance.js';
import { transportSettings, type RedisTransportSettings } from './options.js';
import { Publisher } from './publisher.js';
import { parseRedisUrl } from './url.js';
import { InvalidationWaker } from './waker.js';

/** Options of {@link createRedisTransport}: Celery's broker_transport_options, camelCase or snake_case. */
export type RedisTransportOptions = Record<string, unknown>;

/** The Redis transport. Build it with {@link createRedisTransport}. */
export class RedisTransport implements Transport {
  readonly kind = 'redis';
  readonly capabilities: TransportCapabilities = {
    fanout: true,
    priorities: true,
    delayedDelivery: true,
    leases: true,
    multiProcess: true,
  };
  readonly displayUrl: string;
  readonly layout: KeyLayout;
  readonly settings: RedisTransportSettings;
  readonly connector: RedisConnector;
  readonly main: Redis;
  readonly held: HeldMessages;
  readonly waker: InvalidationWaker;
  private readonly publisher: Publisher;
  private readonly fanout: FanoutHub;
  private readonly maintenance: Maintenance;
  private readonly consumers = new Set<RedisConsumer>();
  private readonly errorListeners = new Set<(error: Error) => void>();
  private connecting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(url: string, options: RedisTransportOptions = {}) {
    const endpoint = parseRedisUrl(url, options, 'brokerUrl');
    this.settings = transportSettings(options);
    this.displayUrl = endpoint.displayUrl;
    this.layout = new KeyLayout({ db: endpoint.db, ...this.settings });
    this.connector = new RedisConnector(
      endpoint,
      'broker',
      this.settings.connectTimeout,
      this.settings.clientName,
    );
    const onError = (error: Error): void => this.reportError(error);
    this.main = this.connector.create('main', { enableAutoPipelining: true }, onError);
    this.held = new HeldMessages(this.main, this.layout, this.settings.ackDelay * 1000);
    this.publisher = new Publisher(this.main, this.layout);
    this.waker = new InvalidationWaker(this.connector, onError);
    this.fanout = new FanoutHub(this.connector, this.layout, this.main, onError);
    this.maintenance = new Maintenance({
      main: this.main,
      layout: this.layout,
      settings: this.settings,
      publisher: this.publisher,
      heldTags: () => [...this.consumers].flatMap((c) => c.heldTags()),
      onPromoted: () => this.consumers.forEach((c) => c.wake()),
      onError,
    });
  }

  /** Listens to errors of the background work (reconnects, restore passes); returns the remover. */
  onError(listener: (error: Error) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  private reportError(error: Error): void {
    for (const listener of [...this.errorListeners]) listener(error);
    for (const consumer of this.consumers) consumer.reportError(error);
  }

  connect(): Promise<void> {
    if (this.closing) return Promise.reject(new ClosedError('The Redis transport'));
    this.connecting ??= this.connector.open(this.main).catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  private check(): void {
    if (this.closing) throw new ClosedError('The Redis transport');
  }

  async declare(queue: QueueSpec): Promise<void> {
    this.check();
    await this.publisher.declare(queue);
  }

  publish(message: WireMessage, route: Route, options?: PublishOptions): Promise<void> {
    if (this.closing) return Promise.reject(new ClosedError('The Redis transport'));
    return this.publisher.publish(message, route, options);
  }

  consume(options: ConsumeOptions): RedisConsumer {
    this.check();
    const consumer = new RedisConsumer(
      {
        connector: this.connector,
        layout: this.layout,
        settings: this.settings,
        held: this.held,
        waker: this.waker,
        schedulePromote: (dueAt) => this.maintenance.schedulePromote(dueAt),
        consumerClosed: (c) => this.consumerClosed(c),
      },
      options,
    );
    this.consumers.add(consumer);
    this.maintenance.start();
    return consumer;
  }

  /** A closed consumer is forgotten once it holds nothing (held ones are restored at close()). */
  private consumerClosed(consumer: RedisConsumer): void {
    if (this.closing) return;
    if (consumer.unsettled().length === 0) this.consumers.delete(consumer);
  }

  async purge(queue: string): Promise<number> {
    this.check();
    const pipe = this.main.multi();
    for (const key of this.layout.queueKeys(queue)) pipe.llen(key).del(key);
    const results = (await pipe.exec()) ?? [];
    return results.reduce((sum, [, value], i) => (i % 2 === 0 ? sum + Number(value) : sum), 0);
  }

  async size(queue: string): Promise<number> {
    this.check();
    const pipe = this.main.pipeline();
    for (const key of this.layout.queueKeys(queue)) pipe.llen(key);
    const results = (await pipe.exec()) ?? [];
    return results.reduce((sum, [, value]) => sum + Number(value), 0);
  }

  async broadcast(exchange: string, routingKey: string, message: WireMessage): Promise<void> {
    this.check();
    const envelope = encodeEnvelope(message, { exchange, routingKey, deliveryTag: randomUUID() });
    await this.fanout.publish(exchange, routingKey, envelope);
  }

  async subscribe(
    exchange: string,
    bindingKey: string,
    handler: FanoutHandler,
    options?: SubscribeOptions,
  ): Promise<Subscription> {
    this.check();
    return this.fanout.subscribe(exchange, bindingKey, handler, options?.queue);
  }

  /**
   * Closes consumers, puts every delivery still held back at the front of its queue (RPUSH,
   * marked redelivered, as a Python worker does at shutdown), removes fanout bindings, and
   * disconnects. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const consumers = [...this.consumers];
      await Promise.all(consumers.map((c) => c.close()));
      await settleWithin(this.publisher.flush(), CLOSE_GRACE_MS);
      const held = consumers.flatMap((c) => c.unsettled());
      if (held.length > 0 && this.main.status === 'ready') {
        const items = held.map((d) => ({ tag: d.deliveryTag, raw: d.raw, key: d.sourceKey }));
        const putBack = this.held.putBack(items, 'R', true);
        putBack.catch((err: unknown) => this.reportError(toError(err)));
        await settleWithin(putBack, CLOSE_GRACE_MS);
      }
      await settleWithin(this.held.flush(), CLOSE_GRACE_MS);
      await this.maintenance.close();
      await this.fanout.close();
      await this.waker.close();
      await this.connecting?.catch(() => undefined);
      await closeClient(this.main);
      this.consumers.clear();
    })();
    return this.closing;
  }
}

/** Creates (does not connect) a Redis transport for `redis://`, `rediss://` or `sentinel://` URLs. */
export function createRedisTransport(
  url: string,
  options: RedisTransportOptions = {},
): RedisTransport {
  return new RedisTransport(url, options);
}
