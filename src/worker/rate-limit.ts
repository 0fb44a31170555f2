/**
 * Per-task rate limits, per worker, as Celery has them (`'10/s'`, `'100/m'`, `'1000/h'`):
 * a token bucket per task name with a capacity of one, so tasks start no faster than the
 * rate. Limits can change at run time (the `rate_limit` control command).
 */
import { parseRateLimit } from '../util/duration.js';

/** Time and sleeping, injectable for tests. */
export interface LimiterClock {
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (never rejects). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const realClock: LimiterClock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
};

interface Bucket {
  /** Tasks per second. */
  rate: number;
  /** When the next task may start (clock ms). */
  nextAt: number;
}

/** Rate limits of one worker. */
export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #overrides = new Map<string, number | null>();
  /** Run-time limits as they were given ('10/m'), for `inspect registered` (Celery shows the task attribute). */
  readonly #given = new Map<string, string | number | null>();
  readonly #clock: LimiterClock;

  constructor(clock: LimiterClock = realClock) {
    this.#clock = clock;
  }

  /**
   * Sets a run-time limit for a task (null or '0' disables it). Throws RangeError for a
   * malformed limit, naming the accepted forms.
   */
  set(
    taskName: string,
    limit: string | number | null,
    given: string | number | null = limit,
  ): void {
    this.#overrides.set(taskName, limit === null ? null : parseRateLimit(limit));
    this.#given.set(taskName, given);
    this.#buckets.delete(taskName);
  }

  /** The task's limit as last set at run time ({ limit }), or undefined when never set. */
  override(taskName: string): { limit: string | number | null } | undefined {
    return this.#given.has(taskName) ? { limit: this.#given.get(taskName) ?? null } : undefined;
  }

  /** The limit in force (tasks per second), or null. */
  rateOf(taskName: string, configured: string | number | null): number | null {
    if (this.#overrides.has(taskName)) return this.#overrides.get(taskName) ?? null;
    return configured === null ? null : parseRateLimit(configured);
  }

  /** Whether a limit is in force for the task (acquire() is then needed). */
  limited(taskName: string, configured: string | number | null): boolean {
    return configured !== null || this.#overrides.has(taskName);
  }

  /**
   * Waits until the task may start under its limit, or until `signal` aborts (a worker that
   * stops: the task then finds it may not start, and its message goes back).
   */
  async acquire(
    taskName: string,
    configured: string | number | null,
    signal?: AbortSignal,
  ): Promise<void> {
    const rate = this.rateOf(taskName, configured);
    if (rate === null) return;
    const interval = 1000 / rate;
    let bucket = this.#buckets.get(taskName);
    if (!bucket || bucket.rate !== rate) {
      bucket = { rate, nextAt: this.#clock.now() };
      this.#buckets.set(taskName, bucket);
    }
    const now = this.#clock.now();
    const startAt = Math.max(now, bucket.nextAt);
    bucket.nextAt = startAt + interval;
    if (startAt > now && !signal?.aborted) await this.#clock.sleep(startAt - now, signal);
  }
}
