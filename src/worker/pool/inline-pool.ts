/**
 * The event-loop pool behind the {@link Pool} interface: tasks run in this process through the
 * tracer, at most `concurrency` at a time ('event', Celery's closest match is gevent/eventlet)
 * or one at a time ('solo'). Right for async, I/O-bound tasks.
 *
 * Time limits are as good as an event loop allows: the soft limit aborts the task's signal;
 * at the hard limit the signal is aborted too and the job ends with TimeLimitExceeded at once,
 * its promise abandoned (a task that ignores its signal keeps running in the background, and
 * one that blocks the loop delays everything, limits included; use prefork for those).
 */
import type { Celery } from '../../app/celery.js';
import { trace, type Outcome, type TraceServices } from '../../app/trace.js';
import {
  ClosedError,
  NotRegistered,
  SoftTimeLimitExceeded,
  TaskRevokedError,
  TimeLimitExceeded,
  toError,
} from '../../errors.js';
import { LazyAbort } from '../../util/abort.js';
import type { Logger } from '../../util/logger.js';
import type { StartAwareJob } from './child-pool.js';
import { TaskSlots } from './slots.js';
import {
  failureOf,
  terminatedOutcome,
  timeLimitOutcome,
  toPoolOutcome,
  workerLostOutcome,
} from './outcome.js';
import type { Pool, PoolJob, PoolOutcome } from './types.js';

/** Options of the event-loop pools. */
export interface EventLoopPoolOptions {
  /** The app whose registry the tasks come from. */
  app: Celery;
  /** Tasks at a time (forced to 1 for 'solo'). */
  concurrency: number;
  logger: Logger;
  /** 'event loop' (default) or 'solo' (one task at a time). */
  name?: 'event loop' | 'solo' | undefined;
}

/**
 * A job while it runs: its abort, its timers, its end; and the services its trace uses (as
 * methods, not a fresh object of closures per task).
 */
class Running implements TraceServices {
  readonly controller = new LazyAbort();
  readonly startedAt = performance.now();
  ended = false;
  terminated = false;
  timers: NodeJS.Timeout[] | undefined;

  constructor(
    readonly job: PoolJob,
    private readonly pool: { app: Celery; logger: Logger },
    /** Called once, by end(), with the outcome. */
    private readonly onEnd: (running: Running, outcome: PoolOutcome) => void,
  ) {}

  /** Ends the job now with this outcome (its promise, if any, is abandoned). */
  end(outcome: PoolOutcome): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timers) for (const timer of this.timers) clearTimeout(timer);
    this.onEnd(
      this,
      this.terminated && outcome.kind === 'failure' ? { ...outcome, cause: 'terminated' } : outcome,
    );
  }

  addTimer(timer: NodeJS.Timeout): void {
    (this.timers ??= []).push(timer);
  }

  /** The signal is built only when the task (or its context) asks for it. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  isAborted(): boolean {
    return this.controller.aborted;
  }

  updateState(state: string, meta: unknown): Promise<void> {
    return this.ended
      ? Promise.reject(new Error('updateState() was called after the task ended'))
      : this.job.onState(state, meta);
  }

  warn(text: string, error: unknown): void {
    this.pool.logger.warning(`${text} for ${label(this.job)}`, error);
  }

  now(): number {
    return this.pool.app.now();
  }
}

/** Runs tasks in this process. */
export class EventLoopPool implements Pool {
  readonly name: 'event loop' | 'solo';
  readonly pids: readonly number[] = [];
  readonly #o: EventLoopPoolOptions;
  readonly #slots: TaskSlots;
  readonly #running = new Set<Running>();
  /** Jobs waiting for a slot, by submission number. */
  readonly #queued = new Map<number, { id: string; cancel(outcome: PoolOutcome): void }>();
  #seq = 0;
  #closing = false;
  #drained: Array<() => void> = [];

  constructor(options: EventLoopPoolOptions) {
    this.#o = options;
    this.name = options.name ?? 'event loop';
    this.#slots = new TaskSlots(this.name === 'solo' ? 1 : options.concurrency);
  }

  get concurrency(): number {
    return this.#slots.concurrency;
  }

  async start(): Promise<void> {}

  run(job: PoolJob): Promise<PoolOutcome> {
    if (this.#closing) return Promise.reject(new ClosedError(`The ${this.name} pool`));
    let cancelled: PoolOutcome | undefined;
    const seq = ++this.#seq;
    this.#queued.set(seq, { id: job.request.id, cancel: (outcome) => (cancelled = outcome) });
    const start = (): Promise<PoolOutcome> => {
      this.#queued.delete(seq);
      if (!cancelled) return this.#execute(job); // #execute gives the slot back
      this.#slots.leave();
      this.#checkDrained();
      return Promise.resolve(cancelled);
    };
    // A free slot is taken at once; the drain check runs where a job ends (not in a
    // .finally: three promises per task).
    const waiting = this.#slots.enter();
    return waiting ? waiting.then(start) : start();
  }

  terminate(taskId: string, graceMs: number): void {
    for (const queued of this.#queued.values()) {
      if (queued.id === taskId) queued.cancel(terminatedOutcome(0));
    }
    for (const running of this.#running) {
      if (running.job.request.id === taskId) this.#terminate(running, graceMs);
    }
  }

  #terminate(running: Running, graceMs: number): void {
    if (running.ended || running.terminated) return;
    running.terminated = true;
    running.controller.abort(new TaskRevokedError('terminated'));
    running.addTimer(
      setTimeout(
        () => {
          this.#o.logger.warning(
            `Terminating ${label(running.job)}: still running ${graceMs} ms after its signal was aborted; abandoning it`,
          );
          running.end(terminatedOutcome(runtimeOf(running)));
        },
        Math.max(0, graceMs),
      ),
    );
  }

  resize(concurrency: number): void {
    if (this.name !== 'solo') this.#slots.resize(concurrency);
  }

  async close(timeoutMs: number): Promise<void> {
    this.#closing = true;
    if (this.#running.size > 0 || this.#queued.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#drained.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, timeoutMs)))),
      ]);
      clearTimeout(timer);
    }
    for (const queued of this.#queued.values())
      queued.cancel(workerLostOutcome('the pool was closed before the task started', 0));
    for (const running of this.#running) {
      running.controller.abort(new Error('worker shutting down'));
      running.end(workerLostOutcome('the pool was closed while the task ran', runtimeOf(running)));
    }
  }

  #execute(job: StartAwareJob): Promise<PoolOutcome> {
    const { app, logger } = this.#o;
    const def = app.tasks.get(job.taskName);
    if (!def || !def.local) {
      this.#slots.leave();
      this.#checkDrained();
      return Promise.resolve(failureOf(new NotRegistered(job.taskName), 0));
    }
    return new Promise<PoolOutcome>((resolve) => {
      const running = new Running(job, this.#o, (ended, outcome) => {
        this.#running.delete(ended);
        this.#slots.leave();
        resolve(outcome);
        this.#checkDrained();
      });
      this.#running.add(running);
      const { softTimeLimit: soft, hardTimeLimit: hard } = job;
      if (soft !== null && soft > 0) {
        running.addTimer(
          setTimeout(() => running.controller.abort(new SoftTimeLimitExceeded(soft)), soft * 1000),
        );
      }
      if (hard !== null && hard > 0) {
        running.addTimer(
          setTimeout(() => {
            logger.error(
              `Hard time limit (${hard}s) exceeded for ${label(job)}; its promise is abandoned`,
            );
            running.controller.abort(new TimeLimitExceeded(hard));
            running.end(timeLimitOutcome(hard, runtimeOf(running)));
          }, hard * 1000),
        );
      }
      try {
        job.onStart?.(process.pid);
      } catch (error) {
        logger.warning(`onStart failed for ${label(job)}`, error);
      }
      let traced: ReturnType<typeof trace>;
      try {
        traced = trace(def, job.request, running);
      } catch (error) {
        running.end(failureOf(toError(error), runtimeOf(running)));
        return;
      }
      // A synchronous body ended already: no promise and no tick between it and its outcome.
      if (!(traced instanceof Promise)) this.#end(running, traced);
      else
        traced.then(
          (outcome) => this.#end(running, outcome),
          (error: unknown) => running.end(failureOf(toError(error), runtimeOf(running))),
        );
    });
  }

  /** Ends a job with its trace's outcome (a conversion that throws ends it as a failure). */
  #end(running: Running, outcome: Outcome): void {
    let converted: PoolOutcome;
    try {
      converted = toPoolOutcome(outcome);
    } catch (error) {
      converted = failureOf(toError(error), runtimeOf(running));
    }
    running.end(converted);
  }

  #checkDrained(): void {
    if (this.#running.size > 0 || this.#queued.size > 0) return;
    for (const resolve of this.#drained.splice(0)) resolve();
  }
}

function label(job: PoolJob): string {
  return `${job.taskName}[${job.request.id}]`;
}

function runtimeOf(running: Running): number {
  return (performance.now() - running.startedAt) / 1000;
}
