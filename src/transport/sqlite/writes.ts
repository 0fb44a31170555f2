/** The writes a publish or a broadcast queues for the pump's transaction. */
import type { Route } from '../types.js';
import type { WriteOp } from './claims.js';
import type { EncodedMessage } from './codec.js';

/** Broadcasts older than this are pruned. */
export const BROADCAST_TTL_MS = 60_000;

/** Inserts the message as ready in each queue (priority bucket `pri`). */
export function publishOp(
  queues: readonly string[],
  pri: number,
  route: Route,
  m: EncodedMessage,
): WriteOp {
  return (s, now) => {
    for (const q of queues) {
      s.insert.run(
        q,
        pri,
        route.exchange,
        route.routingKey,
        m.contentType,
        m.contentEncoding,
        m.headers,
        m.properties,
        m.body,
        now,
      );
    }
  };
}

/** Appends a broadcast to the fanout log, pruning old entries when `prune`. */
export function broadcastOp(
  exchange: string,
  routingKey: string,
  m: EncodedMessage,
  prune: boolean,
): WriteOp {
  return (s, now) => {
    s.broadcast.run(
      exchange,
      routingKey,
      m.contentType,
      m.contentEncoding,
      m.headers,
      m.properties,
      m.body,
      now,
    );
    if (prune) s.pruneBroadcasts.run(now - BROADCAST_TTL_MS);
  };
}

/** One timer to the earliest due time; re-arming at the same time keeps the running timer. */
export class DueTimer {
  private armed: { at: number; timer: NodeJS.Timeout } | undefined;

  constructor(private readonly onDue: () => void) {}

  /** Fires `onDue` at `at` (epoch ms); null disarms. */
  arm(at: number | null): void {
    if (at !== null && this.armed?.at === at) return;
    if (this.armed) clearTimeout(this.armed.timer);
    this.armed = undefined;
    if (at === null) return;
    const timer = setTimeout(
      () => {
        this.armed = undefined;
        this.onDue();
      },
      Math.max(0, at - Date.now()),
    );
    this.armed = { at, timer };
  }
}
