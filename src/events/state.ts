/**
 * The cluster as events describe it (Celery's `celery.events.state.State`): workers with
 * their heartbeats, tasks with their state, times, result or exception. A reducer: `apply()`
 * folds one event in; no I/O, no timers, time is passed in, so the terminal monitor, the
 * dashboard and tests share it.
 *
 * Rules kept from Celery: a worker is alive while `now < last heartbeat (local) + freq * 2`;
 * task events count as signs of life of their worker; an event that logically happened
 * before the task's current state (e.g. STARTED arriving after SUCCESS) only fills in fields
 * and does not move the state back, except that RETRY always applies; task-sent names the
 * client, not a worker.
 */
import type { CeleryEvent, TaskEvent, WorkerEvent } from '../protocol/event.js';

/** Task states by event type, as Celery's TASK_EVENT_TO_STATE. */
const EVENT_STATE: Readonly<Record<string, string>> = {
  sent: 'PENDING',
  received: 'RECEIVED',
  started: 'STARTED',
  failed: 'FAILURE',
  retried: 'RETRY',
  succeeded: 'SUCCESS',
  revoked: 'REVOKED',
  rejected: 'REJECTED',
};

/** celery.states.PRECEDENCE: lower index = later in a task's life. */
const PRECEDENCE = [
  'SUCCESS',
  'FAILURE',
  '',
  'REVOKED',
  'STARTED',
  'RECEIVED',
  'REJECTED',
  'RETRY',
  'PENDING',
];
function precedence(state: string): number {
  const i = PRECEDENCE.indexOf(state);
  return i === -1 ? 2 : i;
}

/** A worker as seen through its events. */
export interface WorkerInfo {
  hostname: string;
  pid: number | null;
  /** Seconds between heartbeats the worker announced. */
  freq: number;
  /** Receive times (epoch seconds, local) of the last heartbeats, oldest first (at most 4). */
  heartbeats: number[];
  clock: number;
  active: number | null;
  processed: number | null;
  loadavg: number[] | null;
  swIdent: string | null;
  swVer: string | null;
  swSys: string | null;
  /** True after a worker-offline event (until it comes back). */
  offline: boolean;
}

/** A task as seen through its events. Times are epoch seconds. */
export interface TaskInfo {
  uuid: string;
  name: string | null;
  state: string;
  /** Node name of the worker that handled it. */
  worker: string | null;
  /** Node name of the client that sent it (task-sent). */
  client: string | null;
  sent: number | null;
  received: number | null;
  started: number | null;
  succeeded: number | null;
  failed: number | null;
  retried: number | null;
  revoked: number | null;
  rejected: number | null;
  /** Time of the event that set the current state. */
  timestamp: number | null;
  args: string | null;
  kwargs: string | null;
  retries: number | null;
  eta: string | null;
  expires: string | null;
  /** repr of the return value. */
  result: string | null;
  /** repr of the exception. */
  exception: string | null;
  traceback: string | null;
  runtime: number | null;
  rootId: string | null;
  parentId: string | null;
  exchange: string | null;
  routingKey: string | null;
  clock: number;
}

/** Limits of a {@link ClusterState}. */
export interface ClusterStateOptions {
  /** Oldest tasks are forgotten beyond this many. Default 10 000 (Celery's). */
  maxTasks?: number | undefined;
  /** Default 5000. */
  maxWorkers?: number | undefined;
}

/** How long (s) a worker stays alive after a heartbeat: Celery's 200 % expire window. */
export function heartbeatExpires(worker: WorkerInfo): number | null {
  const last = worker.heartbeats[worker.heartbeats.length - 1];
  return last === undefined ? null : last + worker.freq * 2;
}

/** True while the worker's last heartbeat is fresh (`nowSeconds` = epoch seconds). */
export function isAlive(worker: WorkerInfo, nowSeconds: number): boolean {
  const expires = heartbeatExpires(worker);
  return expires !== null && nowSeconds < expires;
}

/** Cluster state built from events. */
export class ClusterState {
  readonly #workers = new Map<string, WorkerInfo>();
  readonly #tasks = new Map<string, TaskInfo>();
  readonly #maxTasks: number;
  readonly #maxWorkers: number;
  /** Events applied so far. */
  eventCount = 0;
  /** task-received events seen. */
  taskCount = 0;

  constructor(options: ClusterStateOptions = {}) {
    this.#maxTasks = options.maxTasks ?? 10_000;
    this.#maxWorkers = options.maxWorkers ?? 5000;
  }

  /** Folds one event in. */
  apply(event: CeleryEvent): void {
    this.eventCount++;
    switch (event.group) {
      case 'worker':
        this.#workerEvent(event);
        return;
      case 'task':
        this.#taskEvent(event);
        return;
      case 'other':
        return;
    }
  }

  /** Every known worker. */
  workers(): WorkerInfo[] {
    return [...this.#workers.values()];
  }

  /** Workers alive at `nowSeconds` (epoch seconds). */
  aliveWorkers(nowSeconds: number): WorkerInfo[] {
    return this.workers().filter((w) => isAlive(w, nowSeconds));
  }

  worker(hostname: string): WorkerInfo | undefined {
    return this.#workers.get(hostname);
  }

  task(uuid: string): TaskInfo | undefined {
    return this.#tasks.get(uuid);
  }

  /** Tasks, the most recently changed first. */
  tasksByTime(): TaskInfo[] {
    return [...this.#tasks.values()].sort((a, b) => (b.timestamp ?? 0) - (a.timestamp ?? 0));
  }

  /** Forgets finished tasks (or all with `ready: false`), as Celery's clear_tasks(). */
  clearTasks(ready = true): void {
    for (const [id, t] of this.#tasks) {
      if (!ready || t.state === 'SUCCESS' || t.state === 'FAILURE' || t.state === 'REVOKED') {
        this.#tasks.delete(id);
      }
    }
  }

  #getWorker(hostname: string): WorkerInfo {
    let w = this.#workers.get(hostname);
    if (!w) {
      w = newWorker(hostname);
      this.#workers.set(hostname, w);
      evictOldest(this.#workers, this.#maxWorkers);
    }
    return w;
  }

  #workerEvent(event: WorkerEvent): void {
    const w = this.#getWorker(event.hostname);
    const subject = event.type.slice('worker-'.length);
    w.pid = event.pid;
    w.freq = event.freq;
    w.clock = event.clock;
    if (event.active !== undefined) w.active = event.active;
    if (event.processed !== undefined) w.processed = event.processed;
    if (event.loadavg !== undefined) w.loadavg = event.loadavg;
    if (event.swIdent !== undefined) w.swIdent = event.swIdent;
    if (event.swVer !== undefined) w.swVer = event.swVer;
    if (event.swSys !== undefined) w.swSys = event.swSys;
    if (subject === 'offline') {
      w.offline = true;
      w.heartbeats = [];
      return;
    }
    w.offline = false;
    beat(w, event.localReceived ?? event.timestamp);
  }

  #taskEvent(event: TaskEvent): void {
    const subject = event.type.slice('task-'.length);
    let task = this.#tasks.get(event.uuid);
    if (!task) {
      task = newTask(event.uuid);
      this.#tasks.set(event.uuid, task);
      evictOldest(this.#tasks, this.#maxTasks);
    }
    if (subject === 'sent') task.client = event.hostname;
    else {
      const w = this.#getWorker(event.hostname);
      task.worker = w.hostname;
      if (!w.offline) beat(w, event.localReceived ?? event.timestamp);
    }
    if (subject === 'received') this.taskCount++;
    const known = EVENT_STATE[subject];
    const state = known ?? subject.toUpperCase();
    if (known !== undefined) setTime(task, subject, event.timestamp);
    const earlier =
      state !== 'RETRY' && task.state !== 'RETRY' && precedence(state) > precedence(task.state);
    if (earlier && state === 'RECEIVED') {
      // Celery's merge rule: only these fields are taken from a late RECEIVED.
      mergeFields(task, event, [
        'name',
        'args',
        'kwargs',
        'parentId',
        'rootId',
        'retries',
        'eta',
        'expires',
      ]);
      return;
    }
    mergeFields(task, event, TASK_FIELDS);
    task.clock = event.clock;
    if (!earlier) {
      task.state = state;
      task.timestamp = event.timestamp;
    }
  }
}

const TASK_FIELDS = [
  'name',
  'args',
  'kwargs',
  'retries',
  'eta',
  'expires',
  'result',
  'exception',
  'traceback',
  'runtime',
  'rootId',
  'parentId',
  'exchange',
  'routingKey',
] as const;

type MergeField = (typeof TASK_FIELDS)[number];

function mergeFields(task: TaskInfo, event: TaskEvent, fields: readonly MergeField[]): void {
  const t = task as unknown as Record<string, unknown>;
  for (const f of fields) {
    const v = event[f];
    if (v !== undefined) t[f] = v;
  }
}

function setTime(task: TaskInfo, subject: string, timestamp: number): void {
  switch (subject) {
    case 'sent':
    case 'received':
    case 'started':
    case 'succeeded':
    case 'failed':
    case 'retried':
    case 'revoked':
    case 'rejected':
      task[subject] = timestamp;
  }
}

function beat(w: WorkerInfo, at: number): void {
  const hb = w.heartbeats;
  if (hb.length > 0 && at <= (hb[hb.length - 1] ?? 0)) {
    const i = hb.findIndex((x) => x > at);
    hb.splice(i === -1 ? hb.length : i, 0, at);
  } else hb.push(at);
  while (hb.length > 4) hb.shift();
}

function evictOldest<V>(map: Map<string, V>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next().value;
    if (oldest === undefined) return;
    map.delete(oldest);
  }
}

function newWorker(hostname: string): WorkerInfo {
  return {
    hostname,
    pid: null,
    freq: 60,
    heartbeats: [],
    clock: 0,
    active: null,
    processed: null,
    loadavg: null,
    swIdent: null,
    swVer: null,
    swSys: null,
    offline: false,
  };
}

function newTask(uuid: string): TaskInfo {
  return {
    uuid,
    name: null,
    state: 'PENDING',
    worker: null,
    client: null,
    sent: null,
    received: null,
    started: null,
    succeeded: null,
    failed: null,
    retried: null,
    revoked: null,
    rejected: null,
    timestamp: null,
    args: null,
    kwargs: null,
    retries: null,
    eta: null,
    expires: null,
    result: null,
    exception: null,
    traceback: null,
    runtime: null,
    rootId: null,
    parentId: null,
    exchange: null,
    routingKey: null,
    clock: 0,
  };
}
