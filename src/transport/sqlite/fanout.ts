/**
 * Fanout over SQLite: broadcasts are rows of `celeriac_broadcasts`; each transport reads the
 * rows after the last one it saw and hands them to the subscriptions whose binding key matches.
 * A subscription only sees broadcasts made after it subscribed, as with Redis PUBLISH.
 */
import { topicMatches } from '../routing.js';
import type { FanoutHandler } from '../types.js';
import { decodeMessage } from './codec.js';
import type { BrokerStatements } from './schema.js';

interface Sub {
  exchange: string;
  bindingKey: string;
  handler: FanoutHandler;
  /** Broadcasts with an id above this one are new to the subscription. */
  fromId: number;
  open: boolean;
}

/** The subscriptions of one transport and its read position in the broadcast log. */
export class FanoutReader {
  private readonly subs = new Set<Sub>();
  private cursor = 0;
  /** Set when a broadcast may be waiting (own write, or another connection's commit). */
  dirty = false;

  constructor(private readonly onError: (error: unknown) => void) {}

  get size(): number {
    return this.subs.size;
  }

  /** Adds a subscription starting after the newest broadcast; returns its remover. */
  add(
    s: BrokerStatements,
    exchange: string,
    bindingKey: string,
    handler: FanoutHandler,
  ): () => void {
    const last = s.lastBroadcast.get() ?? 0;
    if (this.subs.size === 0) this.cursor = last;
    const sub: Sub = { exchange, bindingKey, handler, fromId: last, open: true };
    this.subs.add(sub);
    return () => {
      sub.open = false;
      this.subs.delete(sub);
    };
  }

  /** Hands every broadcast after the cursor to the matching subscriptions. */
  read(s: BrokerStatements): void {
    if (!this.dirty || this.subs.size === 0) return;
    this.dirty = false;
    for (;;) {
      const rows = s.broadcastsAfter.all(this.cursor);
      for (const row of rows) {
        this.cursor = row.id;
        for (const sub of [...this.subs]) {
          if (!sub.open || row.id <= sub.fromId || sub.exchange !== row.exchange) continue;
          if (!topicMatches(sub.bindingKey, row.routing_key)) continue;
          try {
            sub.handler(decodeMessage(row), row.routing_key);
          } catch (error) {
            this.onError(error);
          }
        }
      }
      if (rows.length < 500) return;
    }
  }

  clear(): void {
    for (const sub of this.subs) sub.open = false;
    this.subs.clear();
  }
}
