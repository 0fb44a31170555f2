/**
 * Receives events (spec §g) as Celery's EventReceiver does: subscribes to the `celeryev`
 * exchange with binding key `#` (Redis: PSUBSCRIBE `/<db>.celeryev/*`), accepts single events
 * and `task.multi` lists, merges every event's clock into the app's Lamport clock (task-sent
 * events get the receiver's clock, as clients never sync), shifts `timestamp` by the sender's
 * utcoffset and stamps `localReceived`.
 */
import { decodeEventBody, utcOffsetHoursWest, type CeleryEvent } from '../protocol/event.js';
import type { WireMessage } from '../protocol/types.js';
import { decompress, deserialize, normalizeAccept } from '../serialization/index.js';
import type { Subscription, Transport } from '../transport/types.js';
import { uuid } from '../util/ids.js';
import type { LamportClock } from './clock.js';

/** Options of {@link EventReceiver}. */
export interface EventReceiverOptions {
  /** A connected transport with fanout. */
  transport: Transport;
  clock: LamportClock;
  /** Called for every event, in arrival order. */
  onEvent: (event: CeleryEvent) => void;
  /** Exchange (Celery's event_exchange). Default `celeryev`. */
  exchange?: string | undefined;
  /** Binding key, `#` (all) by default; `task.#` or `worker.#` to narrow. */
  routingKey?: string | undefined;
  /** Name prefix of the (virtual) queue, Celery's event_queue_prefix. Default `celeryev`. */
  queuePrefix?: string | undefined;
  /** Shift timestamps to this receiver's time zone as Celery does. Default true. */
  localize?: boolean | undefined;
  /** Epoch milliseconds. Default Date.now. */
  now?: (() => number) | undefined;
  /** Messages that cannot be read. */
  onError?: ((error: Error) => void) | undefined;
}

/** Content types accepted for events: json and msgpack (Celery accepts its event_serializer and json). */
const ACCEPT = normalizeAccept(['json', 'msgpack']);

/** Captures events until closed. */
export class EventReceiver {
  readonly #o: EventReceiverOptions;
  #subscription: Subscription | undefined;

  constructor(options: EventReceiverOptions) {
    this.#o = options;
  }

  /** Subscribes; events flow to `onEvent` from now on. */
  async start(): Promise<void> {
    if (this.#subscription) return;
    const exchange = this.#o.exchange ?? 'celeryev';
    this.#subscription = await this.#o.transport.subscribe(
      exchange,
      this.#o.routingKey ?? '#',
      (message) => this.handleMessage(message),
      { queue: `${this.#o.queuePrefix ?? 'celeryev'}.${uuid()}` },
    );
  }

  /** Decodes one event message and hands its events on (exposed for tests and replays). */
  handleMessage(message: WireMessage): void {
    let body: unknown;
    try {
      const raw =
        typeof message.headers['compression'] === 'string'
          ? decompress(message.body, message.headers['compression'])
          : message.body;
      body = deserialize(raw, message.contentType, message.contentEncoding, ACCEPT);
    } catch (error) {
      this.#o.onError?.(error as Error);
      return;
    }
    for (const event of decodeEventBody(body)) this.#o.onEvent(this.fromMessage(event));
  }

  /** Celery's `event_from_message`: clock merge, timestamp localization, local_received. */
  fromMessage(event: CeleryEvent): CeleryEvent {
    const clock = this.#o.clock;
    if (event.type === 'task-sent') {
      event.clock = Math.max(clock.value || 1, 1) - 1;
      clock.adjust(event.clock);
    } else if (event.clock > 0) clock.adjust(event.clock);
    else event.clock = clock.forward();
    const nowMs = (this.#o.now ?? Date.now)();
    if (this.#o.localize !== false) {
      event.timestamp -= (event.utcoffset - utcOffsetHoursWest(new Date(nowMs))) * 3600;
    }
    event.localReceived = nowMs / 1000;
    return event;
  }

  /** Unsubscribes (Redis: also removes the binding, as kombu does). */
  async close(): Promise<void> {
    const sub = this.#subscription;
    this.#subscription = undefined;
    await sub?.close();
  }
}
