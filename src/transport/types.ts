/**
 * The transport seam: how envelopes move between producers and workers. Memory, SQLite,
 * Redis (and later AMQP) implement {@link Transport}; everything above this folder talks to
 * this interface only. Semantics common to all of them are pinned by transport.contract.ts.
 */
import type { WireMessage } from '../protocol/types.js';

/** Where a message goes: exchange '' (the default exchange) routes to the queue named by the key. */
export interface Route {
  exchange: string;
  routingKey: string;
}

/** What a transport can do, as data: the worker and the contract suite read it. */
export interface TransportCapabilities {
  /** broadcast()/subscribe() work (events, remote control). */
  fanout: boolean;
  /** Messages with a higher-precedence priority are served first. */
  priorities: boolean;
  /** Delivery.defer() keeps a message in a due-time store of the broker until it is due. */
  delayedDelivery: boolean;
  /** Unacknowledged messages of a dead consumer come back by themselves (lease/visibility). */
  leases: boolean;
  /** Several processes can share it (false for the in-memory transport). */
  multiProcess: boolean;
}

export interface PublishOptions {
  /** Priority 0..9. Redis: lower is served first (kombu); SQLite/memory follow Redis' order. */
  priority?: number | undefined;
}

/** A message handed to a consumer. Exactly one of ack/reject/defer must be called. */
export interface Delivery {
  readonly message: WireMessage;
  /** The queue it was consumed from. */
  readonly queue: string;
  /** Transport-unique tag (Redis: kombu's delivery_tag). */
  readonly deliveryTag: string;
  /** The route it was published with (for delivery_info). */
  readonly exchange: string;
  readonly routingKey: string;
  readonly redelivered: boolean;
  /** How many times it was handed out before (0 = first delivery), where the transport knows. */
  readonly deliveryCount: number;
  /** Done with it: remove it for good. */
  ack(): Promise<void>;
  /** Give it up: requeue it (true) or drop it (false). */
  reject(requeue: boolean): Promise<void>;
  /**
   * Move it to the broker's due-time store, to be delivered again at `dueAt` (epoch ms).
   * Only when capabilities.delayedDelivery; releases the consumer's prefetch slot.
   */
  defer(dueAt: number): Promise<void>;
  /** Extend the lease of a long-running message (no-op where leases are not used). */
  touch(): Promise<void>;
  /**
   * Optional: the task of this message ended; only storing its result and the settlement
   * remain. The message stays held (and unacknowledged) until ack/reject/defer, but its
   * prefetch slot may be reused before that, for up to ConsumeOptions.finishing such
   * messages at once, so that the next claim overlaps the result store. A no-op after the
   * settlement, and where the transport does not implement it.
   */
  finished?(): void;
}

export interface ConsumeOptions {
  queues: readonly string[];
  /** The most deliveries held unacknowledged at once (0 = no limit). */
  prefetch: number;
  /**
   * How many deliveries marked {@link Delivery.finished} (their task ended; only the result
   * store and the ack remain) may be held on top of `prefetch`. Default 0: finished() frees
   * nothing, and the slot is reused only after the settlement.
   */
  finishing?: number | undefined;
  onDelivery: (delivery: Delivery) => void;
  /** Transport errors while consuming (connection lost, ...). The consumer keeps retrying. */
  onError?: (error: Error) => void;
  /**
   * A message that is not a usable broker message (Redis: a list item that is not a kombu
   * envelope, or an envelope without `delivery_info`). With this handler the consumer hands it
   * over, held like any delivery, for the caller to move aside and ack; `delivery.message` is
   * what could be read (the item's text as the body, `application/octet-stream`, when nothing
   * could). Without it the consumer drops the message and reports `error` through onError.
   */
  onMalformed?: (delivery: Delivery, error: Error) => void;
}

/** A running consumer. Deliveries stop after close(); unacked ones stay the caller's to settle. */
export interface Consumer {
  readonly queues: readonly string[];
  addQueue(queue: string): void;
  cancelQueue(queue: string): void;
  /** New prefetch window; `finishing` as ConsumeOptions.finishing (unchanged when omitted). */
  setPrefetch(prefetch: number, finishing?: number): void;
  /** Stop fetching (in-flight deliveries can still be acked/rejected). */
  close(): Promise<void>;
  /**
   * Liveness: false when the consumer has not completed a fetch cycle for too long (broker
   * unreachable, loop stuck). Optional: transports without a broker connection omit it.
   */
  isHealthy?(): boolean;
  /** Why isHealthy() is false, for logs and probes; null while healthy. */
  healthProblem?(): string | null;
}

/** A fanout subscription (events, remote control). */
export interface Subscription {
  close(): Promise<void>;
}

export type FanoutHandler = (message: WireMessage, routingKey: string) => void;

/** Options of {@link Transport.subscribe}. */
export interface SubscribeOptions {
  /**
   * The name of the (virtual) queue bound to the exchange, as Celery names it
   * (`celeryev.<uuid>`, `<node>.celery.pidbox`). Redis records it in
   * `_kombu.binding.<exchange>` like kombu; default `<exchange>.<uuid>`.
   */
  queue?: string | undefined;
}

/** A queue and how it is bound. */
export interface QueueSpec {
  name: string;
  exchange?: string | undefined;
  exchangeType?: 'direct' | 'topic' | 'fanout' | undefined;
  routingKey?: string | undefined;
}

/** The transport seam. */
export interface Transport {
  /** 'memory' | 'sqlite' | 'redis' | 'amqp' */
  readonly kind: string;
  readonly capabilities: TransportCapabilities;
  /** The URL with any password masked, for banners and logs. */
  readonly displayUrl: string;
  /** Open connections / files. Throws ConnectionError naming the URL and the fix. */
  connect(): Promise<void>;
  /** Declare a queue and its binding (idempotent). */
  declare(queue: QueueSpec): Promise<void>;
  publish(message: WireMessage, route: Route, options?: PublishOptions): Promise<void>;
  consume(options: ConsumeOptions): Consumer;
  /** Remove every ready message of the queue; returns how many. */
  purge(queue: string): Promise<number>;
  /** Ready messages in the queue (all priorities). */
  size(queue: string): Promise<number>;
  /** Fanout publish (events: exchange 'celeryev'; remote control: 'celery.pidbox'). */
  broadcast(exchange: string, routingKey: string, message: WireMessage): Promise<void>;
  /** Receive fanout messages whose routing key matches `bindingKey` (`#` and `*` as AMQP topics). */
  subscribe(
    exchange: string,
    bindingKey: string,
    handler: FanoutHandler,
    options?: SubscribeOptions,
  ): Promise<Subscription>;
  close(): Promise<void>;
}

/** Builds a transport from a URL (after the scheme was matched). */
export type TransportFactory = (url: string, options: Record<string, unknown>) => Transport;
