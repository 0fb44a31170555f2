/**
 * The state behind in-memory transports: queues in kombu's Redis priority buckets, the delayed
 * store, bindings, fanout subscribers, and the dispatch of ready messages to consumers.
 */
import type { WireMessage } from '../protocol/types.js';
import {
  PRIORITY_BUCKETS,
  bindingOf,
  priorityBucket,
  resolveQueues,
  topicMatches,
  type Binding,
} from './routing.js';
import type { FanoutHandler, QueueSpec, Route } from './types.js';

/** What the broker needs from a consumer. */
export interface BrokerConsumer {
  readonly queues: readonly string[];
  hasRoom(): boolean;
  hand(stored: Stored): void;
}

/** @internal A message in a queue or in the delayed store. */
export interface Stored {
  message: WireMessage;
  queue: string;
  exchange: string;
  routingKey: string;
  bucket: number;
  /** Times handed out since published (or deferred). */
  claims: number;
  dueAt: number;
}

/** @internal A fanout subscription. */
export interface Fanout {
  exchange: string;
  bindingKey: string;
  handler: FanoutHandler;
  open: boolean;
}

/** A deep copy, so no two holders share mutable parts. */
export function copyMessage(m: WireMessage): WireMessage {
  return {
    body: Buffer.from(m.body),
    contentType: m.contentType,
    contentEncoding: m.contentEncoding,
    headers: structuredClone(m.headers),
    properties: structuredClone(m.properties),
  };
}

/** The shared state behind one or more {@link MemoryTransport} connections (one process). */
export class MemoryBroker {
  private readonly ready = new Map<string, Stored[][]>();
  private readonly delayed: Stored[] = [];
  private readonly bindings: Binding[] = [];
  private readonly fanouts = new Set<Fanout>();
  private readonly consumers = new Set<BrokerConsumer>();
  private delayTimer: NodeJS.Timeout | undefined;
  private dispatchQueued = false;

  private buckets(queue: string): Stored[][] {
    let b = this.ready.get(queue);
    if (!b) {
      b = Array.from({ length: PRIORITY_BUCKETS }, () => []);
      this.ready.set(queue, b);
    }
    return b;
  }

  /** @internal */ declare(spec: QueueSpec): void {
    const b = bindingOf(spec);
    const same = (x: Binding): boolean =>
      x.exchange === b.exchange &&
      x.queue === b.queue &&
      x.routingKey === b.routingKey &&
      x.exchangeType === b.exchangeType;
    if (!this.bindings.some(same)) this.bindings.push(b);
  }

  /** @internal */ publish(message: WireMessage, route: Route, priority: number | undefined): void {
    const bucket = priorityBucket(priority ?? message.properties.priority);
    for (const queue of resolveQueues(route, this.bindings)) {
      const stored: Stored = {
        message: copyMessage(message),
        queue,
        exchange: route.exchange,
        routingKey: route.routingKey,
        bucket,
        claims: 0,
        dueAt: 0,
      };
      this.buckets(queue)[bucket]!.push(stored);
    }
    this.scheduleDispatch();
  }

  /** @internal */ requeue(stored: Stored): void {
    this.buckets(stored.queue)[stored.bucket]!.unshift(stored);
    this.scheduleDispatch();
  }

  /** @internal */ defer(stored: Stored, dueAt: number): void {
    stored.dueAt = dueAt;
    stored.claims = 0;
    const at = this.delayed.findIndex((d) => d.dueAt > dueAt);
    this.delayed.splice(at < 0 ? this.delayed.length : at, 0, stored);
    this.armDelayTimer();
    this.scheduleDispatch();
  }

  /** @internal */ size(queue: string): number {
    this.promoteDue();
    return (this.ready.get(queue) ?? []).reduce((n, b) => n + b.length, 0);
  }

  /** @internal */ purge(queue: string): number {
    const n = this.size(queue);
    this.ready.delete(queue);
    return n;
  }

  /** @internal */ addConsumer(c: BrokerConsumer): void {
    this.consumers.add(c);
    this.armDelayTimer();
    this.scheduleDispatch();
  }

  /** @internal */ removeConsumer(c: BrokerConsumer): void {
    this.consumers.delete(c);
    this.armDelayTimer();
  }

  /** @internal */ broadcast(exchange: string, routingKey: string, message: WireMessage): void {
    for (const f of this.fanouts) {
      if (f.exchange !== exchange || !topicMatches(f.bindingKey, routingKey)) continue;
      const copy = copyMessage(message);
      queueMicrotask(() => {
        if (f.open) f.handler(copy, routingKey);
      });
    }
  }

  /** @internal */ subscribe(f: Fanout): void {
    this.fanouts.add(f);
  }

  /** @internal */ unsubscribe(f: Fanout): void {
    f.open = false;
    this.fanouts.delete(f);
  }

  /** @internal */ scheduleDispatch(): void {
    if (this.dispatchQueued) return;
    this.dispatchQueued = true;
    queueMicrotask(() => {
      this.dispatchQueued = false;
      this.dispatch();
    });
  }

  private promoteDue(): void {
    const now = Date.now();
    while (this.delayed.length > 0 && this.delayed[0]!.dueAt <= now) {
      const due = this.delayed.shift()!;
      this.buckets(due.queue)[due.bucket]!.push(due);
    }
  }

  private armDelayTimer(): void {
    if (this.delayTimer) clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
    const next = this.delayed[0];
    if (!next || this.consumers.size === 0) return;
    this.delayTimer = setTimeout(
      () => {
        this.delayTimer = undefined;
        this.promoteDue();
        this.armDelayTimer();
        this.dispatch();
      },
      Math.max(0, next.dueAt - Date.now()),
    );
  }

  /** Hands ready messages to consumers with free slots, one per consumer per round. */
  private dispatch(): void {
    this.promoteDue();
    let progress = true;
    while (progress) {
      progress = false;
      for (const c of this.consumers) {
        if (!c.hasRoom()) continue;
        const stored = this.take(c.queues);
        if (stored) {
          progress = true;
          c.hand(stored);
        }
      }
    }
  }

  private take(queues: readonly string[]): Stored | undefined {
    for (let bucket = 0; bucket < PRIORITY_BUCKETS; bucket++) {
      for (const q of queues) {
        const item = this.ready.get(q)?.[bucket]?.shift();
        if (item) return item;
      }
    }
    return undefined;
  }
}
