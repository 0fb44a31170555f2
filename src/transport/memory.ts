/**
 * The in-memory transport: one process only (tests, eager use, `memory://`). Several
 * {@link MemoryTransport} connections can share one {@link MemoryBroker}; unacknowledged
 * deliveries of a connection come back when it closes. Priorities follow kombu's Redis steps.
 */
import { randomUUID } from 'node:crypto';
import { ClosedError } from '../errors.js';
import type { WireMessage } from '../protocol/types.js';
import {
  MemoryBroker,
  copyMessage,
  type BrokerConsumer,
  type Fanout,
  type Stored,
} from './memory-broker.js';
import type {
  ConsumeOptions,
  Consumer,
  Delivery,
  FanoutHandler,
  PublishOptions,
  QueueSpec,
  Route,
  Subscription,
  Transport,
  TransportCapabilities,
} from './types.js';

export { MemoryBroker } from './memory-broker.js';

/** @internal A consumer of a {@link MemoryTransport}. */
class MemoryConsumer implements Consumer, BrokerConsumer {
  private list: string[];
  private held = 0;
  /** Held deliveries whose task finished (Delivery.finished()), awaiting their settlement. */
  private finishing = 0;
  private finishingLimit: number;
  private open = true;

  constructor(
    private readonly conn: MemoryTransport,
    private readonly broker: MemoryBroker,
    private readonly options: ConsumeOptions,
    private prefetch: number,
  ) {
    this.list = [...new Set(options.queues)];
    this.finishingLimit = Math.max(0, options.finishing ?? 0);
  }

  get queues(): readonly string[] {
    return this.list;
  }

  hasRoom(): boolean {
    const reserved = this.held - Math.min(this.finishing, this.finishingLimit);
    return this.open && (this.prefetch <= 0 || reserved < this.prefetch);
  }

  hand(stored: Stored): void {
    this.held++;
    const delivery = this.conn.deliver(
      stored,
      (finished) => {
        this.held--;
        if (finished) this.finishing--;
        this.broker.scheduleDispatch();
      },
      () => {
        this.finishing++;
        this.broker.scheduleDispatch();
      },
    );
    try {
      this.options.onDelivery(delivery);
    } catch (error) {
      this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
    }
  }

  addQueue(queue: string): void {
    if (!this.list.includes(queue)) this.list = [...this.list, queue];
    this.broker.scheduleDispatch();
  }

  cancelQueue(queue: string): void {
    this.list = this.list.filter((q) => q !== queue);
  }

  setPrefetch(prefetch: number, finishing?: number): void {
    this.prefetch = prefetch;
    if (finishing !== undefined) this.finishingLimit = Math.max(0, finishing);
    this.broker.scheduleDispatch();
  }

  async close(): Promise<void> {
    this.open = false;
    this.broker.removeConsumer(this);
    this.conn.forget(this);
  }
}

/** Options of {@link MemoryTransport}. */
export interface MemoryTransportOptions {
  /** The broker to connect to; a new private one when omitted. Share it to get several connections. */
  broker?: MemoryBroker;
}

/** A connection to a {@link MemoryBroker}. `capabilities.multiProcess` is false. */
export class MemoryTransport implements Transport {
  readonly kind = 'memory';
  readonly capabilities: TransportCapabilities = {
    fanout: true,
    priorities: true,
    delayedDelivery: true,
    leases: false,
    multiProcess: false,
  };
  readonly displayUrl = 'memory://';
  /** The broker this connection talks to. */
  readonly broker: MemoryBroker;
  private readonly held = new Map<string, Stored>();
  private readonly consumers = new Set<MemoryConsumer>();
  private readonly subscriptions = new Set<Fanout>();
  private closed = false;

  /** `options.broker` (a {@link MemoryBroker}) is shared when given; other keys are ignored. */
  constructor(options: MemoryTransportOptions | Record<string, unknown> = {}) {
    const broker = (options as Record<string, unknown>)['broker'];
    this.broker = broker instanceof MemoryBroker ? broker : new MemoryBroker();
  }

  private check(): void {
    if (this.closed) throw new ClosedError('The memory transport');
  }

  async connect(): Promise<void> {
    this.check();
  }

  async declare(queue: QueueSpec): Promise<void> {
    this.check();
    this.broker.declare(queue);
  }

  async publish(message: WireMessage, route: Route, options: PublishOptions = {}): Promise<void> {
    this.check();
    this.broker.publish(message, route, options.priority);
  }

  consume(options: ConsumeOptions): Consumer {
    this.check();
    const consumer = new MemoryConsumer(this, this.broker, options, options.prefetch);
    this.consumers.add(consumer);
    this.broker.addConsumer(consumer);
    return consumer;
  }

  /** @internal A consumer of this connection closed. */
  forget(consumer: MemoryConsumer): void {
    this.consumers.delete(consumer);
  }

  /** @internal Makes the Delivery for a message handed to one of this connection's consumers. */
  deliver(stored: Stored, release: (finished: boolean) => void, finish: () => void): Delivery {
    const tag = randomUUID();
    const count = stored.claims++;
    this.held.set(tag, stored);
    let finished = false;
    const settle = (then: (s: Stored) => void): Promise<void> => {
      const s = this.held.get(tag);
      if (s) {
        this.held.delete(tag);
        then(s);
        release(finished);
      }
      return Promise.resolve();
    };
    return {
      message: copyMessage(stored.message),
      queue: stored.queue,
      deliveryTag: tag,
      exchange: stored.exchange,
      routingKey: stored.routingKey,
      redelivered: count > 0,
      deliveryCount: count,
      ack: () => settle(() => undefined),
      reject: (requeue) => settle((s) => (requeue ? this.broker.requeue(s) : undefined)),
      defer: (dueAt) => settle((s) => this.broker.defer(s, dueAt)),
      touch: () => Promise.resolve(),
      finished: () => {
        if (finished || !this.held.has(tag)) return;
        finished = true;
        finish();
      },
    };
  }

  async purge(queue: string): Promise<number> {
    this.check();
    return this.broker.purge(queue);
  }

  async size(queue: string): Promise<number> {
    this.check();
    return this.broker.size(queue);
  }

  async broadcast(exchange: string, routingKey: string, message: WireMessage): Promise<void> {
    this.check();
    this.broker.broadcast(exchange, routingKey, message);
  }

  async subscribe(
    exchange: string,
    bindingKey: string,
    handler: FanoutHandler,
  ): Promise<Subscription> {
    this.check();
    const f: Fanout = { exchange, bindingKey, handler, open: true };
    this.subscriptions.add(f);
    this.broker.subscribe(f);
    return {
      close: async () => {
        this.subscriptions.delete(f);
        this.broker.unsubscribe(f);
      },
    };
  }

  /** `await using` support: the same as close(). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Stops consumers and subscriptions and returns unacknowledged deliveries to their queues. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.consumers]) await c.close();
    for (const f of this.subscriptions) this.broker.unsubscribe(f);
    this.subscriptions.clear();
    const held = [...this.held.values()].reverse();
    this.held.clear();
    for (const s of held) this.broker.requeue(s);
  }
}
