/**
 * The parent side of the process and thread pools: jobs wait in a queue for a free child
 * (each child runs one job at a time, as Celery's prefork children do); hard time limits,
 * terminate and lost children become outcomes; children are recycled after max tasks or above
 * max memory. The children's own lives are in children.ts; how one is started and killed is
 * the {@link SpawnChild} given by process.ts or thread.ts.
 */
import { ClosedError, toError } from '../../errors.js';
import type { ChildPoolOptions, StartAwareJob } from './child-types.js';
import { Children, type JobMessage, type Runner } from './children.js';
import { Fifo } from './fifo.js';
import {
  fromWireError,
  terminatedOutcome,
  timeLimitOutcome,
  toWireError,
  workerLostOutcome,
} from './outcome.js';
import type { Pool, PoolJob, PoolOutcome } from './types.js';

export type {
  ChildEvents,
  ChildHandle,
  ChildPoolOptions,
  SpawnChild,
  StartAwareJob,
} from './child-types.js';

interface Waiting {
  seq: number;
  job: StartAwareJob;
  resolve(outcome: PoolOutcome): void;
}

interface Active extends Waiting {
  runner: Runner<Active>;
  startedAt: number;
  settled: boolean;
  terminated: boolean;
  timers: NodeJS.Timeout[];
}

/** A pool of children (processes or threads) running jobs one at a time each. */
export class ChildPool implements Pool {
  readonly name: string;
  readonly #o: ChildPoolOptions;
  readonly #children: Children<Active>;
  readonly #waiting = new Fifo<Waiting>();
  /** Busy children to replace when their task ends (restart()). */
  readonly #stale = new Set<Runner<Active>>();
  #seq = 0;
  #closing = false;
  #drained: Array<() => void> = [];

  constructor(options: ChildPoolOptions) {
    this.#o = options;
    this.name = options.name;
    this.#children = new Children<Active>(options, {
      idle: () => this.#dispatch(),
      message: (runner, message) => this.#onMessage(runner, message),
      exit: (runner, detail) => this.#onExit(runner, detail),
    });
  }

  get concurrency(): number {
    return this.#children.target;
  }

  get pids(): readonly number[] {
    return this.#children.pids;
  }

  /** Starts the children and waits until each loaded the app. Rejects (APP_LOAD_FAILED) if one cannot. */
  async start(): Promise<void> {
    if (this.#closing) throw new ClosedError(`The ${this.name} pool`);
    try {
      await this.#children.start();
    } catch (error) {
      await this.close(0);
      throw error;
    }
  }

  run(job: PoolJob): Promise<PoolOutcome> {
    if (this.#closing) return Promise.reject(new ClosedError(`The ${this.name} pool`));
    return new Promise<PoolOutcome>((resolve) => {
      this.#waiting.push({ seq: ++this.#seq, job, resolve });
      if (this.#children.idle.size > 0) this.#dispatch();
      else this.#children.replenish();
    });
  }

  terminate(taskId: string, graceMs: number): void {
    for (const waiting of this.#waiting.remove((w) => w.job.request.id === taskId))
      waiting.resolve(terminatedOutcome(0));
    for (const active of this.#active()) {
      if (active.job.request.id !== taskId || active.terminated) continue;
      active.terminated = true;
      active.runner.handle.send({ t: 'abort', seq: active.seq });
      active.timers.push(
        setTimeout(
          () => {
            if (active.settled) return;
            this.#o.logger.warning(
              `Terminating ${label(active)}: still running ${graceMs} ms after its signal was aborted; killing its ${this.name} child ${active.runner.handle.label}`,
            );
            this.#settle(active, terminatedOutcome(runtimeOf(active)));
            this.#children.kill(active.runner);
          },
          Math.max(0, graceMs),
        ),
      );
    }
    this.#checkDrained();
  }

  resize(concurrency: number): void {
    const children = this.#children;
    children.target = Math.max(1, Math.floor(concurrency));
    if (this.#closing) return;
    for (const runner of children.all()) {
      if (children.live() <= children.target) break;
      if (runner.state === 'idle' || runner.state === 'starting') children.retire(runner);
    }
    children.replenish();
  }

  restart(): void {
    for (const runner of [...this.#children.all()]) {
      if (runner.state === 'busy') this.#stale.add(runner);
      else if (runner.state === 'idle' || runner.state === 'starting')
        this.#children.retire(runner);
    }
    this.#children.replenish();
  }

  async close(timeoutMs: number): Promise<void> {
    this.#closing = true;
    if (this.#waiting.length > 0 || this.#active().length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#drained.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, timeoutMs)))),
      ]);
      clearTimeout(timer);
    }
    for (const waiting of this.#waiting.drain())
      waiting.resolve(workerLostOutcome('the pool was closed before the task started', 0));
    await this.#children.close();
  }

  #onMessage(runner: Runner<Active>, message: JobMessage): void {
    const active = runner.job;
    const current = active !== undefined && active.seq === message.seq ? active : undefined;
    switch (message.t) {
      case 'done': {
        if (!current) return;
        runner.job = undefined;
        runner.tasks++;
        let outcome = message.outcome;
        if (current.terminated && outcome.kind === 'failure')
          outcome = { ...outcome, cause: 'terminated' };
        this.#settle(current, outcome);
        if (runner.state !== 'busy') return;
        this.#children.setState(runner, 'idle');
        this.#recycle(runner, message.rss);
        this.#dispatch();
        return;
      }
      case 'state':
        void this.#forwardState(runner, current, message.n, message.state, message.meta);
        return;
      case 'warn':
        this.#o.logger.warning(
          `${message.text}${current ? ` for ${label(current)}` : ''}`,
          fromWireError(message.error),
        );
        return;
    }
  }

  #onExit(runner: Runner<Active>, detail: string): void {
    this.#stale.delete(runner);
    const active = runner.job;
    runner.job = undefined;
    if (active && !active.settled) {
      this.#o.logger.error(
        `The ${this.name} child ${runner.handle.label} running ${label(active)} exited prematurely: ${detail}`,
      );
      this.#settle(active, workerLostOutcome(detail, runtimeOf(active)));
    }
  }

  /** After a task: replace the child if it ran its share of tasks or grew too big, or if there are too many. */
  #recycle(runner: Runner<Active>, rss: number): void {
    const { maxTasksPerChild, maxMemoryPerChild, logger } = this.#o;
    const children = this.#children;
    const who = `${this.name} child ${runner.handle.label}`;
    if (this.#stale.delete(runner)) {
      logger.info(`Replacing ${who}: the pool was restarted`);
      children.retire(runner);
    } else if (maxTasksPerChild !== null && runner.tasks >= maxTasksPerChild) {
      logger.info(`Replacing ${who}: it ran ${runner.tasks} tasks (maxTasksPerChild)`);
      children.retire(runner);
    } else if (maxMemoryPerChild !== null && rss > maxMemoryPerChild * 1024) {
      logger.warning(
        `Replacing ${who}: its memory (${Math.round(rss / 1024)} KiB) is above maxMemoryPerChild (${maxMemoryPerChild} KiB)`,
      );
      children.retire(runner);
    } else if (children.live() > children.target) {
      children.retire(runner);
    }
    children.replenish();
  }

  #dispatch(): void {
    for (const runner of this.#children.idle) {
      const next = this.#waiting.shift();
      if (!next) return;
      this.#assign(runner, next);
    }
  }

  #assign(runner: Runner<Active>, waiting: Waiting): void {
    const { job } = waiting;
    const active: Active = {
      ...waiting,
      runner,
      startedAt: performance.now(),
      settled: false,
      terminated: false,
      timers: [],
    };
    this.#children.setState(runner, 'busy');
    runner.job = active;
    runner.handle.send({
      t: 'run',
      seq: active.seq,
      name: job.taskName,
      request: job.request,
      soft: job.softTimeLimit,
    });
    const hard = job.hardTimeLimit;
    if (hard !== null && hard > 0) {
      active.timers.push(
        setTimeout(() => {
          if (active.settled) return;
          this.#o.logger.error(
            `Hard time limit (${hard}s) exceeded for ${label(active)}; killing ${this.name} child ${runner.handle.label}`,
          );
          this.#settle(active, timeLimitOutcome(hard, runtimeOf(active)));
          this.#children.kill(runner);
        }, hard * 1000),
      );
    }
    try {
      job.onStart?.(runner.handle.pid);
    } catch (error) {
      this.#o.logger.warning(`onStart failed for ${label(active)}`, error);
    }
  }

  /** Passes a custom state to the job's onState and tells the child how it went. */
  async #forwardState(
    runner: Runner<Active>,
    active: Active | undefined,
    n: number,
    state: string,
    meta: unknown,
  ): Promise<void> {
    let error: Error | null = null;
    if (!active || active.settled) {
      error = new Error('updateState() was called after the task ended');
    } else {
      try {
        await active.job.onState(state, meta);
      } catch (thrown) {
        error = toError(thrown);
      }
    }
    if (runner.exited || runner.state === 'killed') return;
    runner.handle.send({ t: 'stated', n, error: error ? toWireError(error) : null });
  }

  #settle(active: Active, outcome: PoolOutcome): void {
    if (active.settled) return;
    active.settled = true;
    for (const timer of active.timers) clearTimeout(timer);
    active.resolve(outcome);
    this.#checkDrained();
  }

  #active(): Active[] {
    const jobs: Active[] = [];
    for (const runner of this.#children.all())
      if (runner.job && !runner.job.settled) jobs.push(runner.job);
    return jobs;
  }

  #checkDrained(): void {
    if (this.#drained.length === 0 || this.#waiting.length > 0 || this.#active().length > 0) return;
    for (const resolve of this.#drained.splice(0)) resolve();
  }
}

function label(active: Active): string {
  return `${active.job.taskName}[${active.job.request.id}]`;
}

function runtimeOf(active: Active): number {
  return (performance.now() - active.startedAt) / 1000;
}
