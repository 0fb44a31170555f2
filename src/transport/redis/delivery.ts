/**
 * A message handed out by the Redis transport. Settling it (ack / reject / defer) frees the
 * consumer's prefetch slot at once; the write itself is coalesced with others.
 */
import { MessageMalformedError } from '../../errors.js';
import { decodeEnvelope } from '../../protocol/kombu-envelope.js';
import type { WireMessage } from '../../protocol/types.js';
import type { Delivery } from '../types.js';
import type { Claimed } from './claim.js';

/** What a delivery's settlement calls (its consumer). */
export interface DeliveryOwner {
  /** Frees the prefetch slot; called once, when the delivery is settled. */
  release(delivery: RedisDelivery): void;
  ack(delivery: RedisDelivery): Promise<void>;
  reject(delivery: RedisDelivery, requeue: boolean): Promise<void>;
  defer(delivery: RedisDelivery, dueAt: number): Promise<void>;
  touch(delivery: RedisDelivery): Promise<void>;
}

/** Fields of a delivery as claimed. */
export interface DeliveryInit {
  message: WireMessage;
  queue: string;
  deliveryTag: string;
  exchange: string;
  routingKey: string;
  redelivered: boolean;
  deliveryCount: number;
  /** The envelope exactly as it was in the list (what goes back on requeue/defer). */
  raw: string;
  /** The list key it was claimed from (priority sub-queue included). */
  sourceKey: string;
}

/** A Redis delivery. Settling twice returns the first settlement's promise. */
export class RedisDelivery implements Delivery {
  readonly message: WireMessage;
  readonly queue: string;
  readonly deliveryTag: string;
  readonly exchange: string;
  readonly routingKey: string;
  readonly redelivered: boolean;
  readonly deliveryCount: number;
  readonly raw: string;
  readonly sourceKey: string;
  private settled: Promise<void> | undefined;

  constructor(
    init: DeliveryInit,
    private readonly owner: DeliveryOwner,
  ) {
    this.message = init.message;
    this.queue = init.queue;
    this.deliveryTag = init.deliveryTag;
    this.exchange = init.exchange;
    this.routingKey = init.routingKey;
    this.redelivered = init.redelivered;
    this.deliveryCount = init.deliveryCount;
    this.raw = init.raw;
    this.sourceKey = init.sourceKey;
  }

  /** True once ack/reject/defer was called. */
  get isSettled(): boolean {
    return this.settled !== undefined;
  }

  ack(): Promise<void> {
    return this.settle(() => this.owner.ack(this));
  }

  reject(requeue: boolean): Promise<void> {
    return this.settle(() => this.owner.reject(this, requeue));
  }

  defer(dueAt: number): Promise<void> {
    return this.settle(() => this.owner.defer(this, dueAt));
  }

  touch(): Promise<void> {
    return this.settled ? Promise.resolve() : this.owner.touch(this);
  }

  private settle(op: () => Promise<void>): Promise<void> {
    if (!this.settled) {
      this.owner.release(this);
      this.settled = op();
    }
    return this.settled;
  }
}

/**
 * The delivery of a claimed message, or the error saying why it is not a kombu envelope
 * (the caller drops it: it can never be run).
 */
export function deliveryOf(
  claimed: Claimed,
  owner: DeliveryOwner,
): RedisDelivery | MessageMalformedError {
  const { source, raw, tag, count } = claimed;
  let decoded;
  try {
    decoded = decodeEnvelope(raw);
  } catch (err) {
    return new MessageMalformedError(
      `Dropped a message from ${source?.queue ?? 'a queue'} that is not a kombu envelope`,
      {
        cause: err,
      },
    );
  }
  return new RedisDelivery(
    {
      message: decoded.message,
      queue: source?.queue ?? decoded.routingKey,
      deliveryTag: tag,
      exchange: decoded.exchange,
      routingKey: decoded.routingKey,
      redelivered: decoded.redelivered,
      deliveryCount: decoded.redelivered ? Math.max(1, count) : 0,
      raw,
      sourceKey: source?.key ?? '',
    },
    owner,
  );
}
