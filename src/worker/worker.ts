/**
 * The worker: consumes the app's queues, runs tasks through a pool and settles their
 * messages. A composition root: it builds its consumer, executor and pool.
 */
import { availableParallelism } from 'node:os';
import type { Celery } from '../app/celery.js';
import { normalizeAccept } from '../serialization/index.js';
import type { Consumer, Delivery } from '../transport/types.js';
import { expandNodeName } from '../util/ids.js';
import { Logger } from '../util/logger.js';
import { renderBanner } from './banner.js';
import { Executor } from './executor.js';
import { TaskSlots } from './pool/slots.js';
import { createPool, type PoolKind } from './pool/create.js';
import type { Pool } from './pool/types.js';
import { NO_TASK_EVENTS, type TaskEventSink } from './task-events.js';
import { WorkerState } from './state.js';
import { Autoscaler } from './autoscaler.js';
import type { ConsumedQueue } from './control-commands.js';
import { WorkerRemote } from './remote.js';
import {
  consumerProblem,
  LivenessMonitor,
  type Liveness,
  type LivenessOptions,
} from './liveness.js';

export const VERSION = '0.1.0';

export interface WorkerOptions {
  /** Node name; `%h`, `%n`, `%d` expand. Default `celery@%h`. */
  hostname?: string | undefined;
  /** Task slots. Default: workerConcurrency, else the number of CPUs. */
  concurrency?: number | undefined;
  /** Queues to consume (default: taskDefaultQueue). */
  queues?: readonly string[] | undefined;
  /** Queues not to consume (-X). */
  excludeQueues?: readonly string[] | undefined;
  logger?: Logger | undefined;
  /** Print the banner to this stream (default: none). */
  bannerStream?: { write(text: string): unknown } | undefined;
  /** Seconds a warm shutdown waits for running tasks before giving their messages back. */
  shutdownTimeout?: number | undefined;
  /**
   * How tasks run (Celery's -P). 'event' (default): async tasks on this process's event loop,
   * `concurrency` at a time: the fastest, but a task that blocks the loop blocks the worker and
   * hard time limits cannot interrupt synchronous code. 'prefork': one child process per slot:
   * CPU-bound tasks never stall the worker and hard time limits kill. 'threads': worker threads.
   * 'solo': one task at a time in this process.
   */
  pool?: PoolKind | undefined;
  /** For 'prefork' and 'threads': the -A spec the children load (path or path:attribute). */
  appSpec?: string | undefined;
  maxTasksPerChild?: number | null | undefined;
  /** KiB. */
  maxMemoryPerChild?: number | null | undefined;
  /** Also gets every task notification (task events go out on the broker regardless). */
  events?: TaskEventSink | undefined;
  /** Send task events (-E). Default: the workerSendTaskEvents setting. */
  taskEvents?: boolean | undefined;
  /** Answer remote control commands. Default: the workerEnableRemoteControl setting. */
  remoteControl?: boolean | undefined;
  /**
   * Called when a `shutdown` control command arrives (the CLI stops the process its usual
   * way). Without it, the worker stops itself.
   */
  onShutdownRequest?: ((reason: string) => void) | undefined;
  /** Grow and shrink between min and max slots by demand (--autoscale=max,min). */
  autoscale?: { max: number; min: number } | undefined;
  /**
   * The liveness monitor (always on while running: it logs when the worker turns unhealthy
   * and when it recovers): a file to refresh while healthy, the check interval, a bound on
   * ill health. Without `onExpired`, an exceeded bound is only logged.
   */
  liveness?: LivenessOptions | undefined;
}

type Lifecycle = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** A celeriac worker. */
export class Worker {
  readonly app: Celery;
  readonly hostname: string;
  readonly queues: string[];
  readonly logger: Logger;
  readonly state = new WorkerState();
  #lifecycle: Lifecycle = 'new';
  #consumer: Consumer | undefined;
  #slots: TaskSlots;
  #pool: Pool;
  #inflight = new Set<Promise<void>>();
  readonly #options: WorkerOptions;
  #concurrency: number;
  #remote: WorkerRemote | undefined;
  #autoscaler: Autoscaler | undefined;
  #liveness: LivenessMonitor | undefined;

  constructor(app: Celery, options: WorkerOptions = {}) {
    this.app = app;
    this.#options = options;
    this.hostname = expandNodeName(options.hostname ?? 'celery@%h');
    this.#concurrency = Math.max(
      1,
      Math.floor(
        options.autoscale?.min ??
          options.concurrency ??
          app.conf.workerConcurrency ??
          availableParallelism(),
      ),
    );
    if (options.autoscale) {
      this.#autoscaler = new Autoscaler(this, options.autoscale);
    }
    const exclude = new Set(options.excludeQueues ?? []);
    this.queues = (
      options.queues?.length ? [...options.queues] : [app.conf.taskDefaultQueue]
    ).filter((q) => !exclude.has(q));
    this.logger = options.logger ?? new Logger({ level: 'WARNING' });
    this.#slots = new TaskSlots(this.concurrency);
    this.#pool = createPool(options.pool ?? 'event', {
      concurrency: this.concurrency,
      logger: this.logger,
      app,
      appSpec: options.appSpec,
      maxTasksPerChild: options.maxTasksPerChild,
      maxMemoryPerChild: options.maxMemoryPerChild,
    });
  }

  get lifecycle(): Lifecycle {
    return this.#lifecycle;
  }

  /** Task slots (changed at run time by pool_grow / pool_shrink). */
  get concurrency(): number {
    return this.#concurrency;
  }

  /** The pool running task bodies. */
  get pool(): Pool {
    return this.#pool;
  }

  /** Messages reserved at most: concurrency × workerPrefetchMultiplier. */
  get prefetchCount(): number {
    const slots = this.#autoscaler?.max ?? this.#concurrency;
    return slots * Math.max(1, this.app.conf.workerPrefetchMultiplier);
  }

  /**
   * Held messages whose task ended and whose result is being stored that do not count against
   * prefetch (the next claim overlaps their store): at most one per task slot.
   */
  get finishingCount(): number {
    return this.#autoscaler?.max ?? this.#concurrency;
  }

  /** True when task events are sent now. */
  get taskEvents(): boolean {
    return this.#remote?.dispatcher.sends('task') ?? false;
  }

  /** Connects, prints the banner, and starts consuming. Resolves once consuming. */
  async start(): Promise<void> {
    if (this.#lifecycle !== 'new') throw new Error(`worker already ${this.#lifecycle}`);
    this.#lifecycle = 'starting';
    const app = this.app;
    app.validate();
    const accept = normalizeAccept(app.conf.acceptContent);
    const urls = app.describeUrls();
    this.#options.bannerStream?.write(
      renderBanner({
        hostname: this.hostname,
        version: VERSION,
        appName: app.main,
        transport: urls.broker,
        results: urls.backend,
        concurrency: this.concurrency,
        pool: this.#pool.name,
        events: this.#options.taskEvents ?? app.conf.workerSendTaskEvents,
        queues: this.queues.map((q) => ({
          name: q,
          exchange: app.conf.taskDefaultExchange,
          routingKey: q,
        })),
        tasks: [...app.tasks.values()]
          .filter((t) => t.local)
          .map((t) => t.name)
          .sort(),
        date: new Date(),
      }),
    );
    const transport = await app.connection();
    const backend = await app.maybeBackend();
    await this.#pool.start();
    this.logger.info(`Connected to ${urls.broker}`);
    for (const queue of this.queues) {
      await transport.declare({
        name: queue,
        exchange: app.conf.taskDefaultExchange,
        routingKey: queue,
      });
    }
    if (transport.capabilities.fanout) {
      this.#remote = await WorkerRemote.start(this, {
        transport,
        version: VERSION,
        taskEvents: this.#options.taskEvents ?? app.conf.workerSendTaskEvents,
        remoteControl: this.#options.remoteControl ?? app.conf.workerEnableRemoteControl,
        maxTasksPerChild: this.#options.maxTasksPerChild ?? null,
        next: this.#options.events,
      });
    }
    const executor = new Executor({
      app,
      transport,
      backend,
      hostname: this.hostname,
      logger: this.logger,
      state: this.state,
      accept,
      pool: this.#pool,
      slots: this.#slots,
      events: this.#remote?.taskEvents ?? this.#options.events ?? NO_TASK_EVENTS,
    });
    this.#consumer = transport.consume({
      queues: this.queues,
      prefetch: this.prefetchCount,
      finishing: this.finishingCount,
      // One .then per message, not a .finally (which costs three promises).
      onDelivery: (delivery: Delivery) => {
        const done = executor.handle(delivery);
        const forget = (): void => void this.#inflight.delete(done);
        this.#inflight.add(done);
        void done.then(forget, forget);
      },
      onMalformed: (delivery, error) => {
        const done = executor.moveAside(delivery, error);
        const forget = (): void => void this.#inflight.delete(done);
        this.#inflight.add(done);
        void done.then(forget, forget);
      },
      onError: (error) => this.logger.error(`Consumer error: ${error.message}; retrying`, error),
    });
    this.#lifecycle = 'running';
    this.#autoscaler?.start();
    this.#remote?.heart.start();
    this.#liveness = new LivenessMonitor(
      () => this.liveness(),
      this.logger,
      this.#options.liveness ?? {},
      `${this.hostname} pid ${process.pid}`,
    );
    this.#liveness.start();
    this.logger.info(`${this.hostname} ready.`);
  }

  /**
   * Whether the worker is alive and consuming: it is running and its consumer is healthy
   * (Redis: the connection is ready and the fetch loop completed a cycle within three idle
   * re-check intervals, 30 s by default; SQLite: the broker file can be used and the claim
   * loop runs). `problem` says why not. For probes: see LivenessOptions.file.
   */
  liveness(): Liveness {
    const problem =
      this.#lifecycle === 'running'
        ? consumerProblem(this.#consumer)
        : `the worker is ${this.#lifecycle}`;
    return { healthy: problem === null, problem };
  }

  /** The same as `liveness().healthy`. */
  healthy(): boolean {
    return this.liveness().healthy;
  }

  /**
   * Warm shutdown: stop consuming, let running tasks finish (up to the timeout), then give
   * back the messages of tasks that did not finish. `cold` skips the wait.
   */
  async stop(options: { cold?: boolean; timeout?: number } = {}): Promise<void> {
    if (this.#lifecycle === 'stopped' || this.#lifecycle === 'stopping') return;
    this.#lifecycle = 'stopping';
    // A message claimed while the consumer closes must not start a task now. The consumer
    // closes first: while it still claimed, each skipped message went back and freed its slot
    // for the next claim, cycling through the queue for as long as the other steps took.
    this.state.accepting = false;
    await this.#liveness?.stop(); // local: timers and the liveness file
    await this.#consumer?.close();
    await this.#remote?.closeMailbox();
    const budget = options.cold
      ? 0
      : (options.timeout ?? this.#options.shutdownTimeout ?? 30) * 1000;
    // Tasks not started yet go back at once.
    for (const held of this.state.reserved()) held.abort.abort(new Error('worker shutting down'));
    if (this.#inflight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.#inflight]),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, budget))),
      ]);
      clearTimeout(timer);
    }
    this.#autoscaler?.stop();
    for (const held of this.state.held.values()) {
      held.abort.abort(new Error('worker shutting down'));
      if (!held.acknowledged) {
        held.acknowledged = true; // handed back: whatever the pool reports later is moot
        await held.delivery.reject(true).catch(() => {});
      }
    }
    await this.#pool.close(options.cold ? 0 : 1000);
    await this.#remote?.stop();
    this.#lifecycle = 'stopped';
  }

  /** Stops a running task (revoke with terminate): aborts its signal, kills it after `graceMs`. */
  terminate(taskId: string, graceMs: number): void {
    this.#pool.terminate(taskId, graceMs);
  }

  /** Tasks held now: running and waiting for a slot (what autoscale reads). */
  demand(): number {
    return this.state.held.size;
  }

  /** Changes the number of task slots (pool_grow / pool_shrink). */
  resize(concurrency: number): void {
    this.#concurrency = Math.max(1, Math.floor(concurrency));
    this.#pool.resize(this.#concurrency);
    this.#slots.resize(this.#concurrency);
    this.#consumer?.setPrefetch(this.prefetchCount, this.finishingCount);
  }

  /** True when started with --autoscale. */
  get autoscaling(): boolean {
    return this.#autoscaler !== undefined;
  }

  /**
   * New autoscale bounds (the autoscale control command): the slots are moved into them at
   * once. Returns the bounds in force, or null when the worker does not autoscale.
   */
  autoscale(max: number | null, min: number | null): { max: number; min: number } | null {
    const scaler = this.#autoscaler;
    if (!scaler) return null;
    const bounds = scaler.update(max, min);
    const slots = Math.min(bounds.max, Math.max(bounds.min, this.#concurrency));
    if (slots !== this.#concurrency) this.resize(slots);
    else this.#consumer?.setPrefetch(this.prefetchCount, this.finishingCount);
    return bounds;
  }

  /** Starts consuming a queue too (add_consumer). */
  async addQueue(queue: ConsumedQueue): Promise<void> {
    const transport = await this.app.connection();
    await transport.declare({
      name: queue.name,
      exchange: queue.exchange,
      exchangeType:
        queue.exchangeType === 'topic' || queue.exchangeType === 'fanout'
          ? queue.exchangeType
          : 'direct',
      routingKey: queue.routingKey,
    });
    if (!this.queues.includes(queue.name)) this.queues.push(queue.name);
    this.#consumer?.addQueue(queue.name);
  }

  /** Stops consuming a queue (cancel_consumer). */
  cancelQueue(queue: string): void {
    const i = this.queues.indexOf(queue);
    if (i !== -1) this.queues.splice(i, 1);
    this.#consumer?.cancelQueue(queue);
  }

  /** A remote `shutdown`: the onShutdownRequest option decides, else a warm stop. */
  requestShutdown(reason: string): void {
    this.logger.warning(reason);
    if (this.#options.onShutdownRequest) this.#options.onShutdownRequest(reason);
    else void this.stop();
  }

  /** Deliveries being handled now. */
  get inflight(): number {
    return this.#inflight.size;
  }
}
