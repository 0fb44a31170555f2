/**
 * A message handed out by the Redis transport. Settling it (ack / reject / defer) frees the
 * consumer's prefetch slot at once; the write itself is coalesced with others.
 */
import { MessageMalformedError } from '../../errors.js';
import { decodeEnvelope } from '../../protocol/kombu-envelope.js';
import type { WireMessage } from '../../protocol/types.js';
import { jsonLoads } from '../../serialization/json.js';
import type { Delivery } from '../types.js';
import type { Claimed } from './claim.js';
import type { ConsumeKey } from './wakeup.js';

/** What a delivery's settlement calls (its consumer). */
export interface DeliveryOwner {
  /** Frees the prefetch slot; called once, when the delivery is settled. */
  release(delivery: RedisDelivery): void;
  ack(delivery: RedisDelivery): Promise<void>;
  reject(delivery: RedisDelivery, requeue: boolean): Promise<void>;
  defer(delivery: RedisDelivery, dueAt: number): Promise<void>;
  touch(delivery: RedisDelivery): Promise<void>;
  /** The task ended (at most once before the settlement; after it, when acked early). */
  finish(delivery: RedisDelivery): void;
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
  /** finished() was called before the settlement. */
  isFinished = false;

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

  finished(): void {
    if (this.isFinished) return;
    if (!this.settled) this.isFinished = true;
    this.owner.finish(this); // also when acked early: the consumer may wait for this result
  }

  private settle(op: () => Promise<void>): Promise<void> {
    if (!this.settled) {
      this.owner.release(this);
      this.settled = op();
    }
    return this.settled;
  }
}

/** A claimed message as a delivery, and what makes it unusable, if anything does. */
export interface ClaimedDelivery {
  delivery: RedisDelivery;
  /**
   * Set when the message is not a usable kombu message: not an envelope at all (then
   * `delivery.message` carries the item's text as its body) or an envelope without
   * `delivery_info` (a Python worker would crash on it).
   */
  malformed: MessageMalformedError | undefined;
}

/** Longest piece of a bad message quoted in its error. */
const PREVIEW_CHARS = 200;

/** The delivery of a claimed message; `malformed` says why it cannot be consumed, if it cannot. */
export function deliveryOf(claimed: Claimed, owner: DeliveryOwner): ClaimedDelivery {
  return decodeDelivery(claimed, owner);
}

/** deliveryOf(), with the tag read from the envelope when `tag` is undefined. */
function decodeDelivery(
  claimed: Omit<Claimed, 'tag'> & { tag: string | undefined },
  owner: DeliveryOwner,
): ClaimedDelivery {
  const { source, raw, count } = claimed;
  const tag = claimed.tag ?? '';
  const queue = source?.queue ?? '';
  const sourceKey = source?.key ?? '';
  // Only an unreadable message needs these defaults.
  const init = (): Omit<DeliveryInit, 'message'> => ({
    queue,
    deliveryTag: tag,
    raw,
    sourceKey,
    exchange: '',
    routingKey: queue,
    redelivered: false,
    deliveryCount: 0,
  });
  let decoded;
  try {
    decoded = decodeEnvelope(raw);
  } catch (err) {
    return unreadable(init(), owner, isJson(raw) ? 'JSON, but not an object' : 'not JSON', err);
  }
  if (decoded.missing === 'properties') {
    return unreadable(init(), owner, 'a JSON object without "properties"');
  }
  // Every field written out: a spread of `init` with overrides cost ~5 % of a worker's CPU
  // (V8 copies it through a slow path once keys repeat).
  const delivery = new RedisDelivery(
    {
      message: decoded.message,
      queue: source?.queue ?? decoded.routingKey,
      deliveryTag: claimed.tag ?? decoded.deliveryTag ?? '',
      exchange: decoded.exchange,
      routingKey: decoded.routingKey,
      redelivered: decoded.redelivered,
      deliveryCount: decoded.redelivered ? Math.max(1, count) : 0,
      raw,
      sourceKey,
    },
    owner,
  );
  const { task, id } = decoded.message.headers;
  const malformed = decoded.missing
    ? new MessageMalformedError(
        `A message in queue '${queue}' (task ${label(task)}, id ${label(id)}) has no properties.delivery_info with exchange and routing_key`,
        { hint: 'kombu requires them: a Python worker crashes on such a message' },
      )
    : undefined;
  return { delivery, malformed };
}

/**
 * The delivery of a message handed off by BLMOVE (handoff.ts), to run before its record in
 * `unacked` is confirmed; undefined when it must wait for that record instead: not a usable
 * envelope, no string delivery tag (the record names it), or redelivered (the record knows
 * how often).
 */
export function handedOffDelivery(
  raw: string,
  source: ConsumeKey,
  owner: DeliveryOwner,
): RedisDelivery | undefined {
  const { delivery, malformed } = decodeDelivery({ source, raw, tag: undefined, count: 0 }, owner);
  return malformed || !delivery.deliveryTag || delivery.redelivered ? undefined : delivery;
}

/** A list item that is not a kombu envelope: its text travels as the body. */
function unreadable(
  init: Omit<DeliveryInit, 'message'>,
  owner: DeliveryOwner,
  what: string,
  cause?: unknown,
): ClaimedDelivery {
  const message: WireMessage = {
    body: Buffer.from(init.raw, 'utf8'),
    contentType: 'application/octet-stream',
    contentEncoding: 'binary',
    headers: {},
    properties: {},
  };
  return {
    delivery: new RedisDelivery({ ...init, message }, owner),
    malformed: new MessageMalformedError(
      `A message in queue '${init.queue}' is not a kombu envelope (${what}): ${preview(init.raw)}`,
      {
        cause,
        hint: 'only kombu envelopes (JSON objects with body, headers and properties) belong in Celery queues',
      },
    ),
  };
}

/** A header value for an error message. */
function label(value: unknown): string {
  return typeof value === 'string' ? value : '?';
}

function isJson(raw: string): boolean {
  try {
    jsonLoads(raw);
    return true;
  } catch {
    return false;
  }
}

/** The start of a bad message, JSON-quoted, for an error message. */
function preview(raw: string): string {
  const text = JSON.stringify(raw.slice(0, PREVIEW_CHARS));
  return raw.length > PREVIEW_CHARS ? `${text}... (${raw.length} characters)` : text;
}
