/**
 * The worker's heart (Celery's `celery.worker.heartbeat.Heart`): `worker-online` at start, a
 * `worker-heartbeat` every `freq` seconds, `worker-offline` at shutdown, each with the number
 * of running tasks, the number processed, the load average and the software's identity.
 * Monitors (Flower, `celery events`, celeriac's own) think a worker is gone when no heartbeat
 * came for `freq * 2` seconds.
 */
import { loadavg, type as osType } from 'node:os';
import type { EventDispatcher } from '../events/dispatcher.js';
import type { WorkerEventFields } from '../protocol/event.js';

/** What the heart needs. */
export interface HeartOptions {
  dispatcher: EventDispatcher;
  /** Seconds between heartbeats (Celery: 2.0). */
  freq: number;
  /** celeriac's version, sent as sw_ver. */
  version: string;
  /** Tasks running now and tasks processed since start. */
  counts: () => { active: number; processed: number };
}

/** Celery's `platform.system()`: Linux, Darwin, Windows. */
function systemName(): string {
  const t = osType();
  return t === 'Windows_NT' ? 'Windows' : t;
}

/** Sends the worker's heartbeats. */
export class Heart {
  readonly #o: HeartOptions;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: HeartOptions) {
    this.#o = options;
  }

  #fields(): WorkerEventFields {
    const { active, processed } = this.#o.counts();
    return {
      freq: this.#o.freq,
      active,
      processed,
      loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
      swIdent: 'celeriac',
      swVer: this.#o.version,
      swSys: systemName(),
    };
  }

  /** Sends worker-online and starts beating. */
  start(): void {
    if (this.#timer) return;
    this.#o.dispatcher.sendWorker('worker-online', this.#fields());
    this.#timer = setInterval(() => this.beat(), this.#o.freq * 1000);
    this.#timer.unref();
  }

  /** Sends a worker-heartbeat now (also what the `heartbeat` control command asks for). */
  beat(): void {
    this.#o.dispatcher.sendWorker('worker-heartbeat', this.#fields());
  }

  /** Stops beating and sends worker-offline (once started). */
  stop(): void {
    if (!this.#timer) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#o.dispatcher.sendWorker('worker-offline', this.#fields());
  }
}
