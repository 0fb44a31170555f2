/**
 * The parent side of the process and thread pools: `concurrency` children, each running one
 * job at a time; a queue of jobs waiting for a free child; hard time limits, terminate and
 * lost children turned into outcomes; recycling (max tasks / max memory per child), resize and
 * close. How a child is started and killed is given by a {@link SpawnChild} function.
 */
import { ClosedError, CeleriacError, toError } from '../../errors.js';
import type { ChildEvents, ChildHandle, ChildPoolOptions, StartAwareJob } from './child-types.js';
import { Fifo } from './fifo.js';
import type { FromChild } from './messages.js';
import { fromWireError, terminatedOutcome, timeLimitOutcome, toWireError, workerLostOutcome } from './outcome.js';
import type { Pool, PoolJob, PoolOutcome } from './types.js';

export type { ChildEvents, ChildHandle, ChildPoolOptions, SpawnChild, StartAwareJob } from './child-types.js';

type RunnerState = 'starting' | 'idle' | 'busy' | 'retiring' | 'killed';

interface Runner {
  readonly handle: ChildHandle;
  state: RunnerState;
  job: Active | undefined;
  tasks: number;
  /** Settles once the child is ready (or failed to start). */
  ready: Deferred;
  timer: NodeJS.Timeout | undefined;
  exited: boolean;
}

interface Waiting {
  seq: number;
  job: StartAwareJob;
  resolve(outcome: PoolOutcome): void;
}

interface Active extends Waiting {
  runner: Runner;
  startedAt: number;
  settled: boolean;
  terminated: boolean;
  timers: NodeJS.Timeout[];
}

interface Deferred {
  readonly promise: Promise<void>;
  readonly settled: boolean;
  resolve(): void;
  reject(error: Error): void;
}

/** A pool of children (processes or threads) running jobs one at a time each. */
export class ChildPool implements Pool {
  readonly name: string;
  readonly #o: ChildPoolOptions;
  readonly #runners = new Set<Runner>();
  readonly #waiting = new Fifo<Waiting>();
  /** Children ready for a job. */
  readonly #idle = new Set<Runner>();
  #target: number;
  #seq = 0;
  #closing = false;
  #started = false;
  #failures = 0;
  #respawnTimer: NodeJS.Timeout | undefined;
  #drained: Array<() => void> = [];
  #exited: Array<() => void> = [];

  constructor(options: ChildPoolOptions) {
    this.#o = options;
    this.name = options.name;
    this.#target = Math.max(1, Math.floor(options.concurrency));
  }

  get concurrency(): number {
    return this.#target;
  }

  get pids(): readonly number[] {
    if (!this.#o.processes) return [];
    return [...this.#runners].filter((r) => r.state !== 'killed').map((r) => r.handle.pid);
  }

  /** Starts the children and waits until each loaded the app. Rejects (APP_LOAD_FAILED) if one cannot. */
  async start(): Promise<void> {
    if (this.#closing) throw new ClosedError(`The ${this.name} pool`);
    const runners: Runner[] = [];
    while (this.#live() < this.#target) runners.push(this.#spawn());
    try {
      await Promise.all(runners.map((r) => r.ready.promise));
    } catch (error) {
      await this.close(0);
      throw error;
    }
    this.#started = true;
  }

  run(job: PoolJob): Promise<PoolOutcome> {
    if (this.#closing) return Promise.reject(new ClosedError(`The ${this.name} pool`));
    return new Promise<PoolOutcome>((resolve) => {
      this.#waiting.push({ seq: ++this.#seq, job, resolve });
      if (this.#idle.size > 0) this.#dispatch();
      else if (this.#live() < this.#target) this.#replenish();
    });
  }

  terminate(taskId: string, graceMs: number): void {
    const cancelled = this.#waiting.remove((w) => w.job.request.id === taskId);
    for (const waiting of cancelled) waiting.resolve(terminatedOutcome(0));
    if (cancelled.length > 0) {
      this.#checkDrained();
      return;
    }
    const active = this.#activeJobs().find((a) => a.job.request.id === taskId);
    if (!active || active.settled || active.terminated) return;
    active.terminated = true;
    active.runner.handle.send({ t: 'abort', seq: active.seq });
    active.timers.push(
      setTimeout(() => {
        if (active.settled) return;
        this.#o.logger.warning(`Terminating ${label(active)}: still running ${graceMs} ms after its signal was aborted; killing its ${this.name} child ${active.runner.handle.label}`);
        this.#settle(active, terminatedOutcome(runtimeOf(active)));
        this.#kill(active.runner);
      }, Math.max(0, graceMs)),
    );
  }

  resize(concurrency: number): void {
    this.#target = Math.max(1, Math.floor(concurrency));
    if (this.#closing) return;
    for (const runner of this.#runners) {
      if (this.#live() <= this.#target) break;
      if (runner.state === 'idle' || runner.state === 'starting') this.#retire(runner);
    }
    this.#replenish();
  }

  async close(timeoutMs: number): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#respawnTimer);
    if (this.#waiting.length > 0 || this.#activeJobs().length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#drained.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, timeoutMs)))),
      ]);
      clearTimeout(timer);
    }
    for (const waiting of this.#waiting.drain()) waiting.resolve(workerLostOutcome('the pool was closed before the task started', 0));
    for (const runner of this.#runners) {
      if (runner.job) this.#kill(runner);
      else this.#retire(runner);
    }
    if (this.#runners.size > 0) await new Promise<void>((resolve) => this.#exited.push(resolve));
  }

  // ---- children --------------------------------------------------------------------------

  #spawn(): Runner {
    // Events come asynchronously, after `runner` is initialized.
    const events: ChildEvents = {
      message: (message) => this.#onMessage(runner, message),
      exit: (detail) => this.#onExit(runner, detail),
    };
    const runner: Runner = {
      handle: this.#o.spawn(events),
      state: 'starting',
      job: undefined,
      tasks: 0,
      ready: deferred(),
      timer: undefined,
      exited: false,
    };
    this.#runners.add(runner);
    runner.timer = setTimeout(() => {
      this.#failStart(runner, new CeleriacError('APP_LOAD_FAILED', `A ${this.name} child did not load the app '${this.#o.appSpec}' within ${this.#o.startTimeoutMs} ms`, {
        hint: 'check that the module loads quickly on its own (no blocking work at import time)',
      }));
      this.#kill(runner);
    }, this.#o.startTimeoutMs);
    runner.handle.send({ t: 'init', appSpec: this.#o.appSpec, cwd: this.#o.cwd, reportRss: this.#o.maxMemoryPerChild !== null });
    return runner;
  }

  #onMessage(runner: Runner, message: FromChild): void {
    switch (message.t) {
      case 'ready':
        clearTimeout(runner.timer);
        this.#failures = 0;
        if (runner.state === 'starting') this.#setState(runner, 'idle');
        runner.ready.resolve();
        this.#dispatch();
        return;
      case 'fatal': {
        const cause = fromWireError(message.error);
        this.#failStart(runner, new CeleriacError('APP_LOAD_FAILED', `A ${this.name} child could not load the app: ${cause.message}`, { cause }));
        return;
      }
      case 'done': {
        const active = runner.job;
        if (!active || active.seq !== message.seq) return;
        runner.job = undefined;
        runner.tasks++;
        let outcome = message.outcome;
        if (active.terminated && outcome.kind === 'failure') outcome = { ...outcome, cause: 'terminated' };
        this.#settle(active, outcome);
        if (runner.state !== 'busy') return;
        this.#setState(runner, 'idle');
        this.#afterTask(runner, message.rss);
        this.#dispatch();
        return;
      }
      case 'state':
        void this.#forwardState(runner, message.seq, message.n, message.state, message.meta);
        return;
      case 'warn': {
        const active = runner.job;
        const what = active && active.seq === message.seq ? ` for ${label(active)}` : '';
        this.#o.logger.warning(`${message.text}${what}`, fromWireError(message.error));
        return;
      }
    }
  }

  #onExit(runner: Runner, detail: string): void {
    runner.exited = true;
    clearTimeout(runner.timer);
    this.#runners.delete(runner);
    this.#idle.delete(runner);
    if (runner.state === 'retiring' || runner.state === 'killed') {
      runner.ready.resolve(); // stopped on purpose before it was ready: not a failure
    } else if (!runner.ready.settled) {
      this.#failStart(runner, new CeleriacError('APP_LOAD_FAILED', `A ${this.name} child exited while loading the app '${this.#o.appSpec}' (${detail})`, {
        hint: 'run the module on its own (node --import tsx <module>) to see the error',
      }));
    }
    const active = runner.job;
    if (active && !active.settled) {
      this.#o.logger.error(`The ${this.name} child ${runner.handle.label} running ${label(active)} exited prematurely: ${detail}`);
      this.#settle(active, workerLostOutcome(detail, runtimeOf(active)));
    }
    runner.job = undefined;
    if (this.#closing) {
      if (this.#runners.size === 0) for (const resolve of this.#exited.splice(0)) resolve();
      return;
    }
    this.#replenish();
    this.#dispatch();
  }

  #failStart(runner: Runner, error: Error): void {
    if (runner.ready.settled) return;
    runner.ready.reject(error);
    clearTimeout(runner.timer);
    this.#failures++;
    // During start() the caller gets the error; afterwards, log it (replacements back off).
    if (this.#started && !this.#closing) this.#o.logger.error(`A ${this.name} child could not start: ${error.message}`);
  }

  #replenish(): void {
    if (this.#closing || this.#respawnTimer) return;
    if (this.#failures > 0) {
      // Children keep failing to start: back off (0.5 s, 1 s, 2 s ... 10 s) instead of spinning.
      const delay = Math.min(10_000, 500 * 2 ** Math.min(5, this.#failures - 1));
      this.#respawnTimer = setTimeout(() => {
        this.#respawnTimer = undefined;
        while (!this.#closing && this.#live() < this.#target) this.#spawn().ready.promise.catch(() => {});
      }, delay);
      return;
    }
    while (this.#live() < this.#target) this.#spawn().ready.promise.catch(() => {});
  }

  /** Children that count toward the target (not leaving, not killed). */
  #live(): number {
    let n = 0;
    for (const r of this.#runners) if (r.state === 'starting' || r.state === 'idle' || r.state === 'busy') n++;
    return n;
  }

  #afterTask(runner: Runner, rss: number): void {
    const { maxTasksPerChild, maxMemoryPerChild, logger } = this.#o;
    if (maxTasksPerChild !== null && runner.tasks >= maxTasksPerChild) {
      logger.info(`Replacing ${this.name} child ${runner.handle.label}: it ran ${runner.tasks} tasks (maxTasksPerChild)`);
      this.#retire(runner);
    } else if (maxMemoryPerChild !== null && rss > maxMemoryPerChild * 1024) {
      logger.warning(`Replacing ${this.name} child ${runner.handle.label}: its memory (${Math.round(rss / 1024)} KiB) is above maxMemoryPerChild (${maxMemoryPerChild} KiB)`);
      this.#retire(runner);
    } else if (this.#live() > this.#target) {
      this.#retire(runner);
    }
    this.#replenish();
  }

  /** Asks an idle child to leave; kills it if it does not within 5 s. */
  #retire(runner: Runner): void {
    if (runner.exited || runner.state === 'killed' || runner.state === 'retiring') return;
    this.#setState(runner, 'retiring');
    clearTimeout(runner.timer);
    runner.handle.send({ t: 'exit' });
    runner.timer = setTimeout(() => this.#kill(runner), 5000);
  }

  #setState(runner: Runner, state: RunnerState): void {
    runner.state = state;
    if (state === 'idle') this.#idle.add(runner);
    else this.#idle.delete(runner);
  }

  #kill(runner: Runner): void {
    if (runner.exited) return;
    this.#setState(runner, 'killed');
    clearTimeout(runner.timer);
    runner.handle.kill();
    if (!this.#closing) this.#replenish();
  }

  // ---- jobs ------------------------------------------------------------------------------

  #dispatch(): void {
    for (const runner of this.#idle) {
      const next = this.#waiting.shift();
      if (!next) return;
      this.#assign(runner, next);
    }
  }

  #assign(runner: Runner, waiting: Waiting): void {
    const { job } = waiting;
    const active: Active = { ...waiting, runner, startedAt: performance.now(), settled: false, terminated: false, timers: [] };
    this.#setState(runner, 'busy');
    runner.job = active;
    runner.handle.send({ t: 'run', seq: active.seq, name: job.taskName, request: job.request, soft: job.softTimeLimit });
    const hard = job.hardTimeLimit;
    if (hard !== null && hard > 0) {
      active.timers.push(
        setTimeout(() => {
          if (active.settled) return;
          this.#o.logger.error(`Hard time limit (${hard}s) exceeded for ${label(active)}; killing ${this.name} child ${runner.handle.label}`);
          this.#settle(active, timeLimitOutcome(hard, runtimeOf(active)));
          this.#kill(runner);
        }, hard * 1000),
      );
    }
    try {
      job.onStart?.(runner.handle.pid);
    } catch (error) {
      this.#o.logger.warning(`onStart failed for ${label(active)}`, error);
    }
  }

  async #forwardState(runner: Runner, seq: number, n: number, state: string, meta: unknown): Promise<void> {
    const active = runner.job;
    let error: Error | null = null;
    if (!active || active.seq !== seq || active.settled) {
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

  #activeJobs(): Active[] {
    const jobs: Active[] = [];
    for (const r of this.#runners) if (r.job && !r.job.settled) jobs.push(r.job);
    return jobs;
  }

  #checkDrained(): void {
    if (this.#drained.length === 0 || this.#waiting.length > 0 || this.#activeJobs().length > 0) return;
    for (const resolve of this.#drained.splice(0)) resolve();
  }
}

function label(active: Active): string {
  return `${active.job.taskName}[${active.job.request.id}]`;
}

function runtimeOf(active: Active): number {
  return (performance.now() - active.startedAt) / 1000;
}

function deferred(): Deferred {
  let settle!: (error: Error | null) => void;
  const promise = new Promise<void>((resolve, reject) => {
    settle = (error) => (error ? reject(error) : resolve());
  });
  const d = {
    promise,
    settled: false,
    resolve(): void {
      if (d.settled) return;
      d.settled = true;
      settle(null);
    },
    reject(error: Error): void {
      if (d.settled) return;
      d.settled = true;
      settle(error);
    },
  };
  return d;
}
