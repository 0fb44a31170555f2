/**
 * `--autoscale=max,min`: grows the pool when tasks wait for a slot and shrinks it again after
 * a quiet spell, as Celery's autoscaler does. The worker reserves messages for `max` slots so
 * that demand can be seen.
 */

/** What the autoscaler steers. */
export interface Scalable {
  readonly concurrency: number;
  /** Tasks held now (running + waiting for a slot). */
  demand(): number;
  resize(concurrency: number): void;
}

export interface AutoscaleOptions {
  max: number;
  min: number;
  /** Milliseconds between checks. Default 1000. */
  intervalMs?: number;
  /** Milliseconds of low demand before shrinking by one. Default 30 000 (Celery's keepalive). */
  keepaliveMs?: number;
  now?: () => number;
}

/** Parses `max,min` (`--autoscale=10,3`); min defaults to 0 → 1 slot. */
export function parseAutoscale(value: string): { max: number; min: number } {
  const [maxText, minText = '1'] = value.split(',');
  const max = Number(maxText);
  const min = Math.max(1, Number(minText));
  if (!Number.isInteger(max) || !Number.isInteger(min) || max < 1 || min > max) {
    throw new RangeError(
      `--autoscale '${value}' must be max,min with 1 <= min <= max, e.g. --autoscale=10,3`,
    );
  }
  return { max, min };
}

/** Periodic scaling decisions. */
export class Autoscaler {
  readonly #target: Scalable;
  readonly #opts: Required<AutoscaleOptions>;
  #lowSince: number | null = null;
  #timer: NodeJS.Timeout | undefined;

  constructor(target: Scalable, options: AutoscaleOptions) {
    this.#target = target;
    this.#opts = { intervalMs: 1000, keepaliveMs: 30_000, now: () => Date.now(), ...options };
  }

  get max(): number {
    return this.#opts.max;
  }

  get min(): number {
    return this.#opts.min;
  }

  /** One decision; returns the new concurrency. */
  tick(): number {
    const { max, min, keepaliveMs, now } = this.#opts;
    const current = this.#target.concurrency;
    const demand = this.#target.demand();
    if (demand > current && current < max) {
      this.#lowSince = null;
      const next = Math.min(max, demand);
      this.#target.resize(next);
      return next;
    }
    if (demand < current && current > min) {
      this.#lowSince ??= now();
      if (now() - this.#lowSince >= keepaliveMs) {
        this.#lowSince = now();
        const next = Math.max(min, current - 1);
        this.#target.resize(next);
        return next;
      }
    } else {
      this.#lowSince = null;
    }
    return current;
  }

  /** New bounds (the autoscale control command); returns the bounds in force. */
  update(max: number | null, min: number | null): { max: number; min: number } {
    if (max !== null) this.#opts.max = Math.max(1, Math.floor(max));
    if (min !== null) this.#opts.min = Math.max(1, Math.floor(min));
    this.#opts.min = Math.min(this.#opts.min, this.#opts.max);
    return { max: this.#opts.max, min: this.#opts.min };
  }

  start(): void {
    this.#timer = setInterval(() => this.tick(), this.#opts.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
