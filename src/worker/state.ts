/**
 * What a worker knows about the tasks it holds: active and reserved requests, counters,
 * and the revoked ids. One instance per worker (no module state).
 */
import type { TaskMessage } from '../protocol/types.js';
import type { Delivery } from '../transport/types.js';
import type { LazyAbort } from '../util/abort.js';
import { RateLimiter } from './rate-limit.js';

/** A task the worker holds: received, maybe running. */
export interface HeldTask {
  readonly message: TaskMessage;
  readonly delivery: Delivery;
  readonly receivedAt: number;
  startedAt: number | null;
  acknowledged: boolean;
  /** The pid of the process running it (a prefork child, or this process). */
  workerPid: number | null;
  /** The signal a revoke --terminate asked for (reported in the task-revoked event). */
  terminateSignal?: number | undefined;
  /** Aborted when the worker stops before the task ends (or starts). */
  readonly abort: LazyAbort;
}

/** Bounded set of revoked ids with expiry (Celery's LimitedSet: 50,000 ids, 3 hours). */
export class RevokedSet {
  readonly #ids = new Map<string, number>();
  /** Bumped on every change (for persistence). */
  version = 0;
  constructor(
    readonly maxSize = 50_000,
    readonly ttlMs = 3 * 3600 * 1000,
  ) {}

  add(id: string, now = Date.now()): void {
    this.version++;
    this.#ids.delete(id);
    this.#ids.set(id, now);
    while (this.#ids.size > this.maxSize) {
      const oldest = this.#ids.keys().next().value;
      if (oldest === undefined) break;
      this.#ids.delete(oldest);
    }
  }

  has(id: string, now = Date.now()): boolean {
    const at = this.#ids.get(id);
    if (at === undefined) return false;
    if (now - at > this.ttlMs) {
      this.#ids.delete(id);
      return false;
    }
    return true;
  }

  ids(): string[] {
    return [...this.#ids.keys()];
  }

  entries(): Array<[string, number]> {
    return [...this.#ids.entries()];
  }
}

/**
 * ETA tasks a worker remembers having parked in the broker, for `inspect scheduled`: each
 * entry keeps its message (a few KB), so the list is bounded; the broker keeps them all.
 */
const MAX_PARKED = 1000;

/** Worker-wide bookkeeping. */
export class WorkerState {
  readonly held = new Map<string, HeldTask>();
  /**
   * ETA tasks this worker parked in the broker's due-time store, by id, until their ETA
   * passes: what `inspect scheduled` lists (a Python worker lists the ETA tasks it holds).
   */
  readonly parked = new Map<string, HeldTask>();
  /** Per-task rate limits, changeable at run time (control: rate_limit). */
  readonly rateLimits = new RateLimiter();
  /** Run-time time limit overrides by task name, seconds (control: time_limit). */
  readonly timeLimits = new Map<string, { hard: number | null; soft: number | null }>();
  readonly revoked = new RevokedSet();
  readonly totals = new Map<string, number>();
  processed = 0;
  /** False from the moment a shutdown begins: no task starts after that (its message goes back). */
  accepting = true;

  /** Tasks running now. */
  active(): HeldTask[] {
    return [...this.held.values()].filter((t) => t.startedAt !== null);
  }

  /** Tasks received but not started. */
  /** Remembers an ETA task parked in the broker (at most MAX_PARKED: the oldest go first). */
  park(held: HeldTask): void {
    this.parked.set(held.message.id, held);
    if (this.parked.size > MAX_PARKED) {
      const oldest = this.parked.keys().next().value;
      if (oldest !== undefined) this.parked.delete(oldest);
    }
  }

  /** Parked ETA tasks whose ETA has not passed (older entries are dropped). */
  scheduled(now: number): HeldTask[] {
    for (const [id, held] of this.parked)
      if (held.message.eta === null || held.message.eta <= now) this.parked.delete(id);
    return [...this.parked.values()];
  }

  /** Tasks received but not started. */
  reserved(): HeldTask[] {
    return [...this.held.values()].filter((t) => t.startedAt === null);
  }

  countDone(name: string): void {
    this.processed++;
    this.totals.set(name, (this.totals.get(name) ?? 0) + 1);
  }
}
