/**
 * Sends events (spec §g) on the `celeryev` exchange through the transport's fanout, as
 * Celery's EventDispatcher does: every event moves the app's Lamport clock; events of a
 * buffered group (`task` on workers) are collected and published as one JSON list on
 * `task.multi` at the end of the current turn of the event loop (or at once when 24 are
 * waiting), other events go out one by one on their own routing key (`worker.heartbeat`).
 * Publishing never throws: a failure goes to `onError` and the events are dropped.
 */
import {
  encodeEvent,
  eventGroup,
  eventRoutingKey,
  utcOffsetHoursWest,
  type CeleryEvent,
  type EventCommon,
  type TaskEventFields,
  type WorkerEventFields,
} from '../protocol/event.js';
import type { WireMessage } from '../protocol/types.js';
import { serialize } from '../serialization/index.js';
import type { Transport } from '../transport/types.js';
import type { LamportClock } from './clock.js';

/** Options of {@link EventDispatcher}. */
export interface EventDispatcherOptions {
  /** The connected transport (called for each publish; the app's `connection()`). */
  connection: () => Promise<Transport>;
  /** Sender node name (worker: `celery@host`, client: `gen<pid>@host`). */
  hostname: string;
  clock: LamportClock;
  /** Exchange name (Celery's event_exchange). Default `celeryev`. */
  exchange?: string | undefined;
  /** Celery's event_serializer: `json` (default) or `msgpack`. */
  serializer?: string | undefined;
  /**
   * Groups to send (`task`, `worker`, ...); others are dropped. Undefined = every group.
   * Change at run time with {@link EventDispatcher.enableGroup} / `disableGroup`.
   */
  groups?: Iterable<string> | undefined;
  /** Groups whose events are batched as `<group>.multi` lists (workers: `['task']`). */
  bufferGroups?: Iterable<string> | undefined;
  /** Publish a buffer once it holds this many events. Default 24 (Celery's). */
  bufferLimit?: number | undefined;
  /** Epoch milliseconds. Default Date.now. */
  now?: (() => number) | undefined;
  pid?: number | undefined;
  /** Publishing errors (the events are dropped). */
  onError?: ((error: Error) => void) | undefined;
}

/** Sends events. */
export class EventDispatcher {
  readonly hostname: string;
  readonly #o: EventDispatcherOptions;
  readonly #groups: Set<string> | null;
  readonly #bufferGroups: ReadonlySet<string>;
  readonly #buffers = new Map<string, Record<string, unknown>[]>();
  #scheduled: NodeJS.Immediate | undefined;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: EventDispatcherOptions) {
    this.#o = options;
    this.hostname = options.hostname;
    this.#groups = options.groups === undefined ? null : new Set(options.groups);
    this.#bufferGroups = new Set(options.bufferGroups ?? []);
  }

  /** True when events of `group` are sent. */
  sends(group: string): boolean {
    return !this.#closed && (this.#groups === null || this.#groups.has(group));
  }

  /** Starts sending a group's events; false when it was already sent. */
  enableGroup(group: string): boolean {
    if (this.#groups === null || this.#groups.has(group)) return false;
    this.#groups.add(group);
    return true;
  }

  /** Stops sending a group's events; false when it was not sent. */
  disableGroup(group: string): boolean {
    if (this.#groups === null) return false;
    return this.#groups.delete(group);
  }

  /** Sends a `task-*` event. */
  sendTask(type: `task-${string}`, fields: TaskEventFields): void {
    this.#send(type, (common) => ({ group: 'task', ...common, ...fields }));
  }

  /** Sends a `worker-*` event. */
  sendWorker(type: `worker-${string}`, fields: WorkerEventFields): void {
    this.#send(type, (common) => ({ group: 'worker', ...common, ...fields }));
  }

  /** Sends a custom event: any type, fields by their wire names. */
  send(type: string, fields: Record<string, unknown> = {}): void {
    this.#send(type, (common) => ({ group: 'other', ...common, extra: fields }));
  }

  #send(type: string, build: (common: EventCommon) => CeleryEvent): void {
    const group = eventGroup(type);
    if (!this.sends(group)) return;
    const nowMs = (this.#o.now ?? Date.now)();
    const event = build({
      type,
      hostname: this.hostname,
      utcoffset: utcOffsetHoursWest(new Date(nowMs)),
      pid: this.#o.pid ?? process.pid,
      clock: this.#o.clock.forward(),
      timestamp: nowMs / 1000,
      extra: {},
    });
    const wire = encodeEvent(event);
    if (this.#bufferGroups.has(group)) {
      let buffer = this.#buffers.get(group);
      if (!buffer) this.#buffers.set(group, (buffer = []));
      buffer.push(wire);
      if (buffer.length >= (this.#o.bufferLimit ?? 24)) this.#flushBuffers();
      else this.#scheduled ??= setImmediate(() => this.#flushBuffers());
      return;
    }
    this.#publish(eventRoutingKey(type), wire);
  }

  /** Publishes buffered events now; resolves when everything sent so far is published. */
  async flush(): Promise<void> {
    this.#flushBuffers();
    await this.#chain;
  }

  /** Publishes what is buffered and stops sending. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }

  #flushBuffers(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    for (const [group, events] of this.#buffers) {
      if (events.length === 0) continue;
      this.#publish(`${group}.multi`, events.splice(0));
    }
  }

  #publish(routingKey: string, body: unknown): void {
    let message: WireMessage;
    try {
      const s = serialize(body, this.#o.serializer ?? 'json');
      message = {
        body: s.body,
        contentType: s.contentType,
        contentEncoding: s.contentEncoding,
        headers: { hostname: this.hostname },
        properties: { deliveryMode: 1 },
      };
    } catch (error) {
      this.#o.onError?.(error as Error);
      return;
    }
    const exchange = this.#o.exchange ?? 'celeryev';
    this.#chain = this.#chain.then(async () => {
      try {
        const transport = await this.#o.connection();
        await transport.broadcast(exchange, routingKey, message);
      } catch (error) {
        this.#o.onError?.(error as Error);
      }
    });
  }
}
