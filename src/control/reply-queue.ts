/**
 * The requester's side of remote control replies (kombu's Mailbox reply queue, spec §h.1):
 * queue `<oid>.reply.celery.pidbox` bound to the direct exchange `reply.celery.pidbox` with
 * routing key `<oid>`, consumed while at least one broadcast waits for replies, then removed.
 * Replies are matched to their broadcast by the `ticket` header; each one moves the app's
 * Lamport clock.
 *
 * Removing the binding: the Transport seam can declare a binding but not delete one, so the
 * binding is also recorded through a fanout subscription named after the reply queue. On
 * Redis that subscription SADDs exactly kombu's binding member and, when closed, SREMs it and
 * DELs the queue's lists, which is what kombu does after collecting (pidbox_ping_broadcast).
 * On the embedded transports the subscription is inert and the queue is purged on close.
 */
import type { LamportClock } from '../events/clock.js';
import { clockHeader, ticketHeader } from '../protocol/pidbox.js';
import type { WireMessage } from '../protocol/types.js';
import { deserialize, normalizeAccept } from '../serialization/index.js';
import type { Consumer, Subscription, Transport } from '../transport/types.js';

/** Replies carry JSON (Python's mailbox accepts json only); msgpack is read too. */
const ACCEPT = normalizeAccept(['json', 'msgpack']);

/** Where replies come back. */
export interface ReplyQueueOptions {
  connection: () => Promise<Transport>;
  clock: LamportClock;
  /** `reply.<control exchange>.pidbox`. */
  exchange: string;
  /** The routing key replies are sent with: the app's oid. */
  routingKey: string;
  /** `<oid>.reply.<control exchange>.pidbox`. */
  queue: string;
  onError?: ((error: Error) => void) | undefined;
}

type Waiter = (body: unknown) => void;

interface Open {
  transport: Transport;
  consumer: Consumer;
  binding: Subscription;
}

/** One reply queue per app, shared by concurrent broadcasts. */
export class ReplyQueue {
  readonly #o: ReplyQueueOptions;
  readonly #waiters = new Map<string, Waiter>();
  #open: Promise<Open> | undefined;
  #users = 0;

  constructor(options: ReplyQueueOptions) {
    this.#o = options;
  }

  /**
   * Starts listening for replies to `ticket` (before the request is published, so no reply
   * is missed). Returns the function that stops listening; the queue is removed when the last
   * listener stops.
   */
  async listen(ticket: string, onReply: Waiter): Promise<() => Promise<void>> {
    this.#users++;
    this.#waiters.set(ticket, onReply);
    try {
      this.#open ??= this.#start();
      await this.#open;
    } catch (error) {
      await this.#stop(ticket);
      throw error;
    }
    let stopped = false;
    return async () => {
      if (stopped) return;
      stopped = true;
      await this.#stop(ticket);
    };
  }

  async #stop(ticket: string): Promise<void> {
    this.#waiters.delete(ticket);
    if (--this.#users > 0) return;
    const opening = this.#open;
    this.#open = undefined;
    if (!opening) return;
    const open = await opening.catch(() => undefined);
    if (!open) return;
    await open.consumer.close();
    await open.binding.close();
    await open.transport.purge(this.#o.queue).catch(() => 0);
  }

  async #start(): Promise<Open> {
    const o = this.#o;
    const transport = await o.connection();
    await transport.declare({
      name: o.queue,
      exchange: o.exchange,
      exchangeType: 'direct',
      routingKey: o.routingKey,
    });
    const binding = await transport.subscribe(o.exchange, o.routingKey, () => {}, {
      queue: o.queue,
    });
    const consumer = transport.consume({
      queues: [o.queue],
      prefetch: 0,
      onDelivery: (delivery) => {
        this.#dispatch(delivery.message);
        delivery.ack().catch((error: unknown) => o.onError?.(error as Error));
      },
      onError: (error) => o.onError?.(error),
    });
    return { transport, consumer, binding };
  }

  #dispatch(message: WireMessage): void {
    this.#o.clock.adjust(clockHeader(message.headers));
    const ticket = ticketHeader(message.headers);
    const waiter = ticket === undefined ? undefined : this.#waiters.get(ticket);
    if (!waiter) return;
    let body: unknown;
    try {
      body = deserialize(message.body, message.contentType, message.contentEncoding, ACCEPT);
    } catch (error) {
      this.#o.onError?.(error as Error);
      return;
    }
    waiter(body);
  }
}
