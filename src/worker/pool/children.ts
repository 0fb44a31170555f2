/**
 * The children of a process or thread pool and their lives: starting them (each loads the app
 * and says it is ready), keeping `target` of them alive (replacements back off when children
 * keep failing to start), retiring idle ones, killing stuck ones, waiting for all to exit.
 * What they run is the pool's business (child-pool.ts).
 */
import { CeleriacError } from '../../errors.js';
import type { ChildEvents, ChildHandle, ChildPoolOptions } from './child-types.js';
import type { FromChild } from './messages.js';
import { fromWireError } from './outcome.js';

/** Where a child is in its life. Only 'starting', 'idle' and 'busy' count toward the target. */
export type RunnerState = 'starting' | 'idle' | 'busy' | 'retiring' | 'killed';

/** A child as its pool tracks it; `J` is the pool's record of the job it runs. */
export interface Runner<J> {
  readonly handle: ChildHandle;
  state: RunnerState;
  job: J | undefined;
  /** Tasks run so far (max-tasks-per-child). */
  tasks: number;
  exited: boolean;
}

/** The messages about jobs, for the pool. */
export type JobMessage = Exclude<FromChild, { t: 'ready' } | { t: 'fatal' }>;

/** What the children tell their pool. */
export interface ChildrenHooks<J> {
  /** A child became ready for a job. */
  idle(): void;
  message(runner: Runner<J>, message: JobMessage): void;
  /** A child is gone; its job, if any, is the pool's to settle. */
  exit(runner: Runner<J>, detail: string): void;
}

interface Life<J> {
  runner: Runner<J>;
  ready: { promise: Promise<void>; settled: boolean; settle(error: Error | null): void };
  timer: NodeJS.Timeout | undefined;
}

/** The set of children of one pool. */
export class Children<J> {
  /** Children ready for a job. */
  readonly idle = new Set<Runner<J>>();
  target: number;
  readonly #o: ChildPoolOptions;
  readonly #hooks: ChildrenHooks<J>;
  readonly #lives = new Map<Runner<J>, Life<J>>();
  #closing = false;
  #started = false;
  #failures = 0;
  #respawnTimer: NodeJS.Timeout | undefined;
  #allExited: Array<() => void> = [];

  constructor(options: ChildPoolOptions, hooks: ChildrenHooks<J>) {
    this.#o = options;
    this.#hooks = hooks;
    this.target = Math.max(1, Math.floor(options.concurrency));
  }

  /** Every child not yet exited. */
  all(): IterableIterator<Runner<J>> {
    return this.#lives.keys();
  }

  /** Pids of the processes that count (not killed); none for threads. */
  get pids(): number[] {
    if (!this.#o.processes) return [];
    return [...this.#lives.keys()].filter((r) => r.state !== 'killed').map((r) => r.handle.pid);
  }

  /** Starts children up to the target and waits until each is ready; rejects with the first failure. */
  async start(): Promise<void> {
    const lives: Array<Life<J>> = [];
    while (this.live() < this.target) lives.push(this.#spawn());
    await Promise.all(lives.map((life) => life.ready.promise));
    this.#started = true;
  }

  /** Children that count toward the target. */
  live(): number {
    let n = 0;
    for (const r of this.#lives.keys())
      if (r.state === 'starting' || r.state === 'idle' || r.state === 'busy') n++;
    return n;
  }

  /** Starts children until `target` count (later, when children keep failing to start). */
  replenish(): void {
    if (this.#closing || this.#respawnTimer) return;
    const fill = (): void => {
      while (!this.#closing && this.live() < this.target)
        this.#spawn().ready.promise.catch(() => {});
    };
    if (this.#failures === 0) return fill();
    // Back off (0.5 s, 1 s, 2 s ... 10 s) instead of spinning on a module that cannot load.
    this.#respawnTimer = setTimeout(
      () => {
        this.#respawnTimer = undefined;
        fill();
      },
      Math.min(10_000, 500 * 2 ** Math.min(5, this.#failures - 1)),
    );
  }

  setState(runner: Runner<J>, state: RunnerState): void {
    runner.state = state;
    if (state === 'idle') this.idle.add(runner);
    else this.idle.delete(runner);
  }

  /** Asks a child without a job to leave; kills it if it has not within 5 s. */
  retire(runner: Runner<J>): void {
    const life = this.#lives.get(runner);
    if (!life || runner.state === 'killed' || runner.state === 'retiring') return;
    this.setState(runner, 'retiring');
    clearTimeout(life.timer);
    runner.handle.send({ t: 'exit' });
    life.timer = setTimeout(() => this.kill(runner), 5000);
  }

  /** Kills a child now (its replacement starts at once). */
  kill(runner: Runner<J>): void {
    const life = this.#lives.get(runner);
    if (!life) return;
    this.setState(runner, 'killed');
    clearTimeout(life.timer);
    runner.handle.kill();
    this.replenish();
  }

  /** Stops replacing children, retires idle ones, kills busy ones, and waits until all exited. */
  async close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#respawnTimer);
    for (const runner of this.#lives.keys()) {
      if (runner.job) this.kill(runner);
      else this.retire(runner);
    }
    if (this.#lives.size > 0) await new Promise<void>((resolve) => this.#allExited.push(resolve));
  }

  #spawn(): Life<J> {
    // Events come asynchronously, after `runner` is initialized.
    const events: ChildEvents = {
      message: (message) => this.#onMessage(life, message),
      exit: (detail) => this.#onExit(life, detail),
    };
    const runner: Runner<J> = {
      handle: this.#o.spawn(events),
      state: 'starting',
      job: undefined,
      tasks: 0,
      exited: false,
    };
    const life: Life<J> = { runner, ready: readiness(), timer: undefined };
    this.#lives.set(runner, life);
    const { appSpec, cwd, startTimeoutMs, maxMemoryPerChild } = this.#o;
    life.timer = setTimeout(() => {
      this.#failStart(
        life,
        new CeleriacError(
          'APP_LOAD_FAILED',
          `A ${this.#o.name} child did not load the app '${appSpec}' within ${startTimeoutMs} ms`,
          {
            hint: 'check that the module loads quickly on its own (no blocking work at import time)',
          },
        ),
      );
      this.kill(runner);
    }, startTimeoutMs);
    runner.handle.send({ t: 'init', appSpec, cwd, reportRss: maxMemoryPerChild !== null });
    return life;
  }

  #onMessage(life: Life<J>, message: FromChild): void {
    const { runner } = life;
    if (message.t === 'ready') {
      clearTimeout(life.timer);
      this.#failures = 0;
      life.ready.settle(null);
      if (runner.state === 'starting') {
        this.setState(runner, 'idle');
        this.#hooks.idle();
      }
    } else if (message.t === 'fatal') {
      const cause = fromWireError(message.error);
      this.#failStart(
        life,
        new CeleriacError(
          'APP_LOAD_FAILED',
          `A ${this.#o.name} child could not load the app: ${cause.message}`,
          { cause },
        ),
      );
    } else {
      this.#hooks.message(runner, message);
    }
  }

  #onExit(life: Life<J>, detail: string): void {
    const { runner } = life;
    runner.exited = true;
    clearTimeout(life.timer);
    this.#lives.delete(runner);
    this.idle.delete(runner);
    if (runner.state === 'retiring' || runner.state === 'killed') {
      life.ready.settle(null); // stopped on purpose, maybe before it was ready: not a failure
    } else if (!life.ready.settled) {
      this.#failStart(
        life,
        new CeleriacError(
          'APP_LOAD_FAILED',
          `A ${this.#o.name} child exited while loading the app '${this.#o.appSpec}' (${detail})`,
          {
            hint: 'run the module on its own (node --import tsx <module>) to see the error',
          },
        ),
      );
    }
    this.#hooks.exit(runner, detail);
    if (this.#closing) {
      if (this.#lives.size === 0) for (const resolve of this.#allExited.splice(0)) resolve();
      return;
    }
    this.replenish();
  }

  #failStart(life: Life<J>, error: Error): void {
    if (life.ready.settled) return;
    life.ready.settle(error);
    clearTimeout(life.timer);
    this.#failures++;
    // During start() the caller gets the error; afterwards, log it (replacements back off).
    if (this.#started && !this.#closing)
      this.#o.logger.error(`A ${this.#o.name} child could not start: ${error.message}`);
  }
}

function readiness(): Life<never>['ready'] {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const ready = {
    promise,
    settled: false,
    settle(error: Error | null): void {
      if (ready.settled) return;
      ready.settled = true;
      if (error) reject(error);
      else resolve();
    },
  };
  return ready;
}
