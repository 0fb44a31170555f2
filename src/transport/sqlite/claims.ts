/**
 * The statements' logic for claiming and reclaiming: which rows a consumer takes, and which
 * held rows go back to their queue because their holder is gone.
 */
import { PRIORITY_BUCKETS } from '../routing.js';
import type { SqliteConsumer } from './consumer.js';
import { processAlive, type Owner } from './owner.js';
import type { BrokerStatements, MessageRow } from './schema.js';

/** A write run inside the pump's transaction. */
export type WriteOp = (s: BrokerStatements, now: number) => void;

/**
 * Claims up to the consumer's free slots, leased to `owner` until `leaseUntil`: lower priority
 * buckets first, then the consumer's queues in rotated order, FIFO within one queue and bucket.
 */
export function claimRows(
  s: BrokerStatements,
  owner: Owner,
  leaseUntil: number,
  c: SqliteConsumer,
): MessageRow[] {
  const base = {
    owner: owner.id,
    host: owner.host,
    pid: owner.pid,
    start: owner.start,
    lease: leaseUntil,
  };
  const limit = c.free();
  const queues = c.claimOrder();
  const byOrder = (a: MessageRow, b: MessageRow): number => a.pri - b.pri || a.id - b.id;
  if (queues.length === 1) {
    return s.claimQueue.all({ ...base, queue: queues[0] ?? '', limit }).sort(byOrder);
  }
  const rows: MessageRow[] = [];
  for (let pri = 0; pri < PRIORITY_BUCKETS && rows.length < limit; pri++) {
    for (const queue of queues) {
      if (rows.length >= limit) break;
      rows.push(
        ...s.claimBucket.all({ ...base, queue, pri, limit: limit - rows.length }).sort(byOrder),
      );
    }
  }
  return rows;
}

/**
 * The write that gives back held messages whose holder is gone: on this host (same hostname and
 * PID namespace) a holder whose process died; elsewhere a holder whose lease ran out. Found with
 * plain reads, so null (no write lock taken) when there is nothing to give back.
 */
export function reclaimOp(s: BrokerStatements, host: string, now: number): WriteOp | null {
  const dead = s.holders
    .all()
    .filter((h) => h.owner_host === host && !processAlive(h.owner_pid, h.owner_start));
  const expired = s.anyExpired.get(now, host) !== undefined;
  if (dead.length === 0 && !expired) return null;
  return (st) => {
    for (const d of dead) st.releaseProcess.run(d.owner_host, d.owner_pid, d.owner_start);
    if (expired) st.releaseExpired.run(now, host);
  };
}
