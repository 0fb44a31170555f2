/**
 * The deliveries a transport has handed out and not yet settled: their Delivery objects, and
 * the timer that renews their leases while they are held.
 */
import { ClosedError } from '../../errors.js';
import type { Delivery } from '../types.js';
import type { WriteOp } from './claims.js';
import { decodeMessage } from './codec.js';
import type { SqliteConsumer } from './consumer.js';
import type { Owner } from './owner.js';
import type { MessageRow } from './schema.js';

/** What the held set needs from its transport. */
export interface HeldHost {
  /** Queues a write for the pump; resolves once committed. */
  enqueue(run: WriteOp, addsWork: boolean): Promise<void>;
  readonly closed: boolean;
  readonly displayUrl: string;
}

/** Held deliveries of one transport. */
export class HeldDeliveries {
  private readonly tags = new Set<string>();
  private renewTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: HeldHost,
    private readonly owner: Owner,
    private readonly visibilityMs: number,
  ) {}

  /** The Delivery for a claimed row, counted as held until settled. */
  make(c: SqliteConsumer, row: MessageRow): Delivery {
    const tag = `${row.id}:${row.claims}`;
    const id = row.id;
    const me = this.owner.id;
    this.tags.add(tag);
    this.startRenewing();
    let finished = false;
    const settle = (run: WriteOp, addsWork: boolean): Promise<void> => {
      if (this.host.closed) {
        return Promise.reject(new ClosedError(`The SQLite broker ${this.host.displayUrl}`));
      }
      if (!this.tags.delete(tag)) return Promise.resolve();
      c.release(finished);
      return this.host.enqueue(run, addsWork);
    };
    return {
      message: decodeMessage(row),
      queue: row.queue,
      deliveryTag: tag,
      exchange: row.exchange,
      routingKey: row.routing_key,
      redelivered: row.claims > 1,
      deliveryCount: row.claims - 1,
      ack: () => settle((s) => s.ack.run(id, me), false),
      reject: (requeue) =>
        settle((s) => (requeue ? s.requeue.run(id, me) : s.ack.run(id, me)), requeue),
      defer: (dueAt) => settle((s) => s.defer.run(dueAt, id, me), true),
      finished: () => {
        if (finished || !this.tags.has(tag)) return;
        finished = true;
        c.finish();
      },
      touch: () => {
        if (!this.tags.has(tag)) return Promise.resolve();
        return this.host.enqueue((s, now) => s.touch.run(now + this.visibilityMs, id, me), false);
      },
    };
  }

  /** Renews every held lease a third of the visibility timeout apart, while any is held. */
  private startRenewing(): void {
    if (this.renewTimer) return;
    const o = this.owner;
    this.renewTimer = setInterval(
      () => {
        if (this.tags.size === 0) {
          this.stop();
          return;
        }
        const renew: WriteOp = (s, now) =>
          s.renewAll.run(now + this.visibilityMs, o.host, o.pid, o.start, o.id);
        this.host.enqueue(renew, false).catch(() => undefined);
      },
      Math.max(50, Math.floor(this.visibilityMs / 3)),
    );
  }

  /** Forgets every held delivery (their rows were given back) and stops renewing. */
  clear(): void {
    this.tags.clear();
    this.stop();
  }

  private stop(): void {
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
  }
}
