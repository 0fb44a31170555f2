/**
 * The worker's liveness: a worker that is running but consumes nothing (broker unreachable,
 * a consumer loop wedged in a command that never settles, an event loop stalled) must not
 * look alive. {@link LivenessMonitor} checks {@link Liveness} every few seconds, logs when it
 * changes, refreshes a liveness file's mtime only while healthy (for exec probes such as
 * Kubernetes': `test $(($(date +%s) - $(stat -c %Y FILE))) -lt 30`), and reports a worker
 * that stayed unhealthy longer than a bound.
 */
import { unlink, writeFile } from 'node:fs/promises';
import { toError } from '../errors.js';
import type { Consumer } from '../transport/types.js';
import type { Logger } from '../util/logger.js';

/** What Worker.liveness() reports. */
export interface Liveness {
  healthy: boolean;
  /** Why it is not healthy; null when it is. */
  problem: string | null;
}

/** Options of the liveness monitor (WorkerOptions.liveness; the CLI's --liveness-* flags). */
export interface LivenessOptions {
  /** Written while healthy, its mtime refreshed every `interval`; removed at stop. */
  file?: string | undefined;
  /** Seconds between checks (default 5). */
  interval?: number | undefined;
  /**
   * Seconds of continuous ill health after which `onExpired` runs (once per episode).
   * Default: never (the worker logs an error every minute and keeps trying to recover).
   */
  maxUnhealthy?: number | undefined;
  /** Called when `maxUnhealthy` is exceeded; default: a CRITICAL log line only. */
  onExpired?: ((problem: string, seconds: number) => void) | undefined;
}

/** Default seconds between checks. */
export const LIVENESS_INTERVAL = 5;
/** How often a continuing ill health is logged again. */
const REPEAT_MS = 60_000;
/**
 * Right after start the consumer may still be connecting: until the first healthy check, ill
 * health is not reported for this long (the default connect timeout), and it is re-checked
 * every STARTUP_RECHECK_MS so the liveness file appears as soon as the worker consumes.
 */
const STARTUP_GRACE_MS = 5000;
const STARTUP_RECHECK_MS = 100;

/** The consumer's own view of its health (transports without one count as healthy). */
export function consumerProblem(consumer: Consumer | undefined): string | null {
  if (!consumer) return 'the worker has no consumer';
  if (consumer.healthProblem) return consumer.healthProblem();
  return consumer.isHealthy?.() === false ? 'the consumer reports itself unhealthy' : null;
}

/** Checks a worker's liveness periodically; see the module comment. */
export class LivenessMonitor {
  readonly #source: () => Liveness;
  readonly #logger: Logger;
  readonly #options: LivenessOptions;
  readonly #stamp: string;
  #timer: NodeJS.Timeout | undefined;
  #recheck: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #seenHealthy = false;
  #unhealthySince: number | null = null;
  #lastReport = 0;
  #expired = false;
  #writing: Promise<void> | undefined;
  #fileError: string | undefined;

  /** `stamp`: what the liveness file says (who refreshes it). */
  constructor(source: () => Liveness, logger: Logger, options: LivenessOptions, stamp: string) {
    this.#source = source;
    this.#logger = logger;
    this.#options = options;
    this.#stamp = stamp;
  }

  /** Checks now, then every interval. */
  start(): void {
    if (this.#timer) return;
    this.#startedAt = Date.now();
    const seconds = this.#options.interval ?? LIVENESS_INTERVAL;
    this.#timer = setInterval(() => this.check(), Math.max(0.05, seconds) * 1000);
    this.#timer.unref();
    this.check();
  }

  /** Stops checking and removes the liveness file (a stopped worker is not alive). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    clearTimeout(this.#recheck);
    this.#timer = undefined;
    this.#recheck = undefined;
    await this.#writing;
    const file = this.#options.file;
    if (file) await unlink(file).catch(() => undefined);
  }

  /** One check: log a change, refresh the file when healthy, report an expired bound. */
  check(): void {
    const { healthy, problem } = this.#source();
    const now = Date.now();
    const since = this.#unhealthySince;
    if (healthy) {
      if (since !== null) {
        this.#logger.warning(
          `Worker healthy again after ${seconds(now - since)} s (consuming from the broker).`,
        );
      }
      this.#unhealthySince = null;
      this.#seenHealthy = true;
      this.#expired = false;
      this.#touch();
      return;
    }
    const why = problem ?? 'unknown';
    if (!this.#seenHealthy && now - this.#startedAt < STARTUP_GRACE_MS) {
      if (this.#timer && !this.#recheck) {
        this.#recheck = setTimeout(() => {
          this.#recheck = undefined;
          this.check();
        }, STARTUP_RECHECK_MS);
        this.#recheck.unref();
      }
      return;
    }
    if (since === null) {
      this.#unhealthySince = now;
      this.#lastReport = now;
      const file = this.#options.file;
      this.#logger.error(
        `Worker unhealthy: ${why}${file ? `; the liveness file ${file} is not refreshed until it recovers` : ''}.`,
      );
      return;
    }
    const down = now - since;
    if (now - this.#lastReport >= REPEAT_MS) {
      this.#lastReport = now;
      this.#logger.error(`Worker still unhealthy after ${seconds(down)} s: ${why}.`);
    }
    const bound = this.#options.maxUnhealthy;
    if (bound !== undefined && !this.#expired && down >= bound * 1000) {
      this.#expired = true;
      this.#logger.critical(
        `Worker unhealthy for ${seconds(down)} s, longer than the ${bound} s allowed: ${why}.`,
      );
      this.#options.onExpired?.(why, down / 1000);
    }
  }

  /** Rewrites the liveness file (new mtime); one write at a time, errors logged once. */
  #touch(): void {
    const file = this.#options.file;
    if (!file || this.#writing) return;
    const text = `${this.#stamp} healthy at ${new Date().toISOString()}\n`;
    this.#writing = writeFile(file, text)
      .then(
        () => {
          this.#fileError = undefined;
        },
        (error: unknown) => {
          const message = toError(error).message;
          if (message !== this.#fileError)
            this.#logger.error(`Cannot write the liveness file ${file}: ${message}`);
          this.#fileError = message;
        },
      )
      .finally(() => {
        this.#writing = undefined;
      });
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
