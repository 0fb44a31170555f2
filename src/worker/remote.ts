/**
 * What makes a worker visible and steerable from outside: its event dispatcher (task events
 * and heartbeats), its heart, and its mailbox answering remote control commands. Built by
 * Worker.start() when the transport has fanout; torn down by Worker.stop().
 */
import type { Celery } from '../app/celery.js';
import { EventDispatcher } from '../events/dispatcher.js';
import type { Transport } from '../transport/types.js';
import type { Logger } from '../util/logger.js';
import { controlCommands, type ConsumedQueue, type ControlContext } from './control-commands.js';
import { Heart } from './heartbeat.js';
import { Mailbox } from './mailbox.js';
import type { Pool } from './pool/types.js';
import type { WorkerState } from './state.js';
import { dispatcherSink } from './task-event-sink.js';
import type { TaskEventSink } from './task-events.js';

/** The parts of a worker the remote side reads and steers. */
export interface RemoteWorker {
  readonly app: Celery;
  readonly hostname: string;
  readonly state: WorkerState;
  readonly logger: Logger;
  readonly concurrency: number;
  readonly queues: readonly string[];
  readonly pool: Pool;
  readonly prefetchCount: number;
  terminate(taskId: string, graceMs: number): void;
  resize(concurrency: number): void;
  readonly autoscaling: boolean;
  autoscale(max: number | null, min: number | null): { max: number; min: number } | null;
  addQueue(queue: ConsumedQueue): Promise<void>;
  cancelQueue(queue: string): void;
  requestShutdown(reason: string): void;
}

/** Options of {@link WorkerRemote.start}. */
export interface WorkerRemoteOptions {
  transport: Transport;
  version: string;
  /** Send task events from the start (-E). */
  taskEvents: boolean;
  /** Answer remote control commands (worker_enable_remote_control). */
  remoteControl: boolean;
  maxTasksPerChild: number | null;
  /** A sink the task events are passed on to as well. */
  next?: TaskEventSink | undefined;
}

/** Events, heartbeats and the mailbox of one worker. */
export class WorkerRemote {
  readonly dispatcher: EventDispatcher;
  readonly heart: Heart;
  readonly taskEvents: TaskEventSink;
  readonly #mailbox: Mailbox | null;
  readonly #queues = new Map<string, ConsumedQueue>();

  private constructor(worker: RemoteWorker, options: WorkerRemoteOptions) {
    const { app, logger } = worker;
    const transport = options.transport;
    this.dispatcher = new EventDispatcher({
      connection: async () => transport,
      hostname: worker.hostname,
      clock: app.lamport,
      exchange: app.conf.eventExchange,
      serializer: app.conf.eventSerializer,
      groups: options.taskEvents ? ['worker', 'task'] : ['worker'],
      bufferGroups: ['task'],
      onError: (error) => logger.warning(`Could not send an event: ${error.message}`),
    });
    this.heart = new Heart({
      dispatcher: this.dispatcher,
      freq: app.conf.workerHeartbeatInterval,
      version: options.version,
      counts: () => ({ active: worker.state.active().length, processed: worker.state.processed }),
    });
    this.taskEvents = dispatcherSink(this.dispatcher, options.next);
    for (const name of worker.queues) {
      this.#queues.set(name, {
        name,
        exchange: app.conf.taskDefaultExchange,
        exchangeType: 'direct',
        routingKey: name,
      });
    }
    const startedAt = Date.now();
    const queues = this.#queues;
    const dispatcher = this.dispatcher;
    const heart = this.heart;
    const ctx: ControlContext = {
      app,
      version: options.version,
      hostname: worker.hostname,
      state: worker.state,
      clock: app.lamport,
      transport,
      pool: worker.pool,
      startedAt,
      get concurrency() {
        return worker.concurrency;
      },
      get prefetchCount() {
        return worker.prefetchCount;
      },
      maxTasksPerChild: options.maxTasksPerChild,
      get queues() {
        return [...queues.values()];
      },
      events: dispatcher,
      heartbeat: () => heart.beat(),
      terminate: (id, grace) => worker.terminate(id, grace),
      resize: (n) => worker.resize(n),
      get autoscaling() {
        return worker.autoscaling;
      },
      autoscale: (max, min) => worker.autoscale(max, min),
      addQueue: async (q) => {
        await worker.addQueue(q);
        queues.set(q.name, q);
      },
      cancelQueue: (name) => {
        worker.cancelQueue(name);
        queues.delete(name);
      },
      shutdown: (reason) => worker.requestShutdown(reason),
      restartPool: worker.pool.restart
        ? async () => {
            worker.pool.restart?.();
          }
        : undefined,
    };
    this.#mailbox = options.remoteControl
      ? new Mailbox({
          transport,
          hostname: worker.hostname,
          clock: app.lamport,
          namespace: app.conf.controlExchange,
          handlers: controlCommands(ctx),
          logger,
        })
      : null;
  }

  /** Builds the remote side and starts listening for commands (heartbeats start later). */
  static async start(worker: RemoteWorker, options: WorkerRemoteOptions): Promise<WorkerRemote> {
    const remote = new WorkerRemote(worker, options);
    await remote.#mailbox?.start();
    return remote;
  }

  /** Stops answering commands. */
  async closeMailbox(): Promise<void> {
    await this.#mailbox?.close();
  }

  /** worker-offline, then the last events are flushed. */
  async stop(): Promise<void> {
    await this.closeMailbox();
    this.heart.stop();
    await this.dispatcher.close();
  }
}
