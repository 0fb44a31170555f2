/**
 * Celery's events (spec §g): the JSON objects workers and clients publish on the `celeryev`
 * exchange, as typed camelCase values. `encodeEvent` writes Python's field names in Python's
 * order (`hostname, utcoffset, pid, clock, <fields>, timestamp, type`), so what celeriac
 * sends is byte-identical to what a Python worker sends for the same values; `decodeEvent`
 * reads what any Celery sends (unknown fields are kept in `extra`, by their wire names).
 * Pure: no I/O, no clocks.
 */
import { MessageMalformedError } from '../errors.js';

/** Fields every event carries (spec §g.2). */
export interface EventCommon {
  type: string;
  /** Sender node name (`celery@host`, or a client's `gen<pid>@host`). */
  hostname: string;
  /** Hours WEST of UTC (spec §0.2). */
  utcoffset: number;
  pid: number;
  /** The sender's Lamport clock. */
  clock: number;
  /** Epoch seconds (float). */
  timestamp: number;
  /** Epoch seconds when a receiver got it (set by receivers, as Celery's). */
  localReceived?: number | undefined;
  /** Fields celeriac does not model, by their wire names, kept in order. */
  extra: Record<string, unknown>;
}

/** What task events may carry (spec §g.3); which ones depends on the type. */
export interface TaskEventFields {
  uuid: string;
  name?: string | undefined;
  /** argsrepr: Python's repr of the positional arguments. */
  args?: string | undefined;
  kwargs?: string | undefined;
  rootId?: string | null | undefined;
  parentId?: string | null | undefined;
  retries?: number | undefined;
  /** ISO string or null. */
  eta?: string | null | undefined;
  expires?: string | null | undefined;
  /** repr of the return value. */
  result?: string | undefined;
  /** Seconds. */
  runtime?: number | undefined;
  /** repr of the exception: `ValueError('boom')`. */
  exception?: string | undefined;
  traceback?: string | null | undefined;
  terminated?: boolean | undefined;
  signum?: number | null | undefined;
  expired?: boolean | undefined;
  requeue?: boolean | undefined;
  queue?: string | undefined;
  exchange?: string | undefined;
  routingKey?: string | undefined;
}

/** What worker events carry (worker-online, -heartbeat, -offline). */
export interface WorkerEventFields {
  /** Seconds between heartbeats. */
  freq: number;
  /** Tasks running now (absent in the on-demand heartbeat of Python workers). */
  active?: number | undefined;
  processed?: number | undefined;
  /** 1, 5 and 15 minute load averages, 2 decimals. */
  loadavg?: number[] | undefined;
  swIdent?: string | undefined;
  swVer?: string | undefined;
  swSys?: string | undefined;
}

/** A `task-*` event. */
export interface TaskEvent extends EventCommon, TaskEventFields {
  group: 'task';
}

/** A `worker-*` event. */
export interface WorkerEvent extends EventCommon, WorkerEventFields {
  group: 'worker';
}

/** Any other event (custom events, `task-cancelled`-like types of other groups). */
export interface OtherEvent extends EventCommon {
  group: 'other';
}

/** A decoded event. */
export type CeleryEvent = TaskEvent | WorkerEvent | OtherEvent;

/** camelCase field → wire name, where they differ. */
const WIRE_NAME: Readonly<Record<string, string>> = {
  rootId: 'root_id',
  parentId: 'parent_id',
  routingKey: 'routing_key',
  swIdent: 'sw_ident',
  swVer: 'sw_ver',
  swSys: 'sw_sys',
  localReceived: 'local_received',
};
const FIELD_NAME: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(WIRE_NAME).map(([k, v]) => [v, k]),
);

/** Field order of each task event type as Celery writes it (observed, events_redis). */
const TASK_ORDER: Readonly<Record<string, readonly (keyof TaskEventFields)[]>> = {
  'task-sent': [
    'uuid',
    'rootId',
    'parentId',
    'name',
    'args',
    'kwargs',
    'retries',
    'eta',
    'expires',
    'queue',
    'exchange',
    'routingKey',
  ],
  'task-received': [
    'uuid',
    'name',
    'args',
    'kwargs',
    'rootId',
    'parentId',
    'retries',
    'eta',
    'expires',
  ],
  'task-succeeded': ['uuid', 'result', 'runtime'],
  'task-failed': ['uuid', 'exception', 'traceback'],
  'task-retried': ['uuid', 'exception', 'traceback'],
  'task-revoked': ['uuid', 'terminated', 'signum', 'expired'],
  'task-rejected': ['uuid', 'requeue'],
};
/** Every task field, for types without a fixed order. */
const ALL_TASK_FIELDS: readonly (keyof TaskEventFields)[] = [
  'uuid',
  'name',
  'args',
  'kwargs',
  'rootId',
  'parentId',
  'retries',
  'eta',
  'expires',
  'result',
  'runtime',
  'exception',
  'traceback',
  'terminated',
  'signum',
  'expired',
  'requeue',
  'queue',
  'exchange',
  'routingKey',
];
const WORKER_FIELDS: readonly (keyof WorkerEventFields)[] = [
  'freq',
  'active',
  'processed',
  'loadavg',
  'swIdent',
  'swVer',
  'swSys',
];
const COMMON_WIRE = new Set([
  'type',
  'hostname',
  'utcoffset',
  'pid',
  'clock',
  'timestamp',
  'local_received',
]);

/** The group of an event type: `task-sent` → `task` (Celery's `group_from`). */
export function eventGroup(type: string): string {
  const dash = type.indexOf('-');
  return dash === -1 ? type : type.slice(0, dash);
}

/** The routing key of an event type: `task-sent` → `task.sent` (spec §g.1). */
export function eventRoutingKey(type: string): string {
  return type.replace(/-/g, '.');
}

/**
 * The wire object of an event, field names and order as Python's EventDispatcher writes them.
 * Fields that are `undefined` are left out; `null` is written.
 */
export function encodeEvent(event: CeleryEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {
    hostname: event.hostname,
    utcoffset: event.utcoffset,
    pid: event.pid,
    clock: event.clock,
  };
  const put = (key: string, value: unknown): void => {
    if (value !== undefined) out[WIRE_NAME[key] ?? key] = value;
  };
  switch (event.group) {
    case 'task':
      for (const key of TASK_ORDER[event.type] ?? ALL_TASK_FIELDS) put(key, event[key]);
      break;
    case 'worker':
      for (const key of WORKER_FIELDS) put(key, event[key]);
      break;
    case 'other':
      break;
  }
  for (const [key, value] of Object.entries(event.extra)) if (!(key in out)) out[key] = value;
  out['timestamp'] = event.timestamp;
  out['type'] = event.type;
  if (event.localReceived !== undefined) out['local_received'] = event.localReceived;
  return out;
}

/**
 * Reads one event object as sent by any Celery (a `task.multi` list is decoded element by
 * element by the caller).
 * @throws MessageMalformedError when it is not an object with a string `type`.
 */
export function decodeEvent(wire: unknown): CeleryEvent {
  if (typeof wire !== 'object' || wire === null || Array.isArray(wire)) {
    throw new MessageMalformedError('An event is not a JSON object', {
      hint: 'events are objects with a "type" field (or lists of them on task.multi)',
    });
  }
  const w = wire as Record<string, unknown>;
  const type = w['type'];
  if (typeof type !== 'string') {
    throw new MessageMalformedError('An event has no "type"', {
      hint: 'every Celery event has a string "type"',
    });
  }
  const common = {
    type,
    hostname: typeof w['hostname'] === 'string' ? w['hostname'] : '',
    utcoffset: num(w['utcoffset']) ?? 0,
    pid: num(w['pid']) ?? 0,
    clock: num(w['clock']) ?? 0,
    timestamp: num(w['timestamp']) ?? 0,
    localReceived: num(w['local_received']),
  };
  const group = eventGroup(type);
  const extra: Record<string, unknown> = {};
  if (group === 'task' && typeof w['uuid'] === 'string') {
    const event: TaskEvent = { group: 'task', ...common, uuid: w['uuid'], extra };
    const known = new Set<string>(ALL_TASK_FIELDS);
    for (const [key, value] of Object.entries(w)) {
      if (COMMON_WIRE.has(key)) continue;
      const field = FIELD_NAME[key] ?? key;
      if (known.has(field)) setTaskField(event, field as keyof TaskEventFields, value);
      else extra[key] = value;
    }
    return event;
  }
  if (group === 'worker') {
    const event: WorkerEvent = { group: 'worker', ...common, freq: num(w['freq']) ?? 60, extra };
    for (const [key, value] of Object.entries(w)) {
      if (COMMON_WIRE.has(key) || key === 'freq') continue;
      const field = FIELD_NAME[key] ?? key;
      if (field === 'active' || field === 'processed') event[field] = num(value);
      else if (field === 'loadavg' && Array.isArray(value))
        event.loadavg = value.map((v) => num(v) ?? 0);
      else if (field === 'swIdent' || field === 'swVer' || field === 'swSys') {
        event[field] = typeof value === 'string' ? value : String(value);
      } else extra[key] = value;
    }
    return event;
  }
  for (const [key, value] of Object.entries(w)) if (!COMMON_WIRE.has(key)) extra[key] = value;
  return { group: 'other', ...common, extra };
}

function setTaskField(event: TaskEvent, field: keyof TaskEventFields, value: unknown): void {
  switch (field) {
    case 'uuid':
      return;
    case 'retries':
    case 'runtime':
      event[field] = num(value);
      return;
    case 'signum':
      event.signum = value === null ? null : num(value);
      return;
    case 'terminated':
    case 'expired':
    case 'requeue':
      event[field] = value === true;
      return;
    case 'rootId':
    case 'parentId':
    case 'eta':
    case 'expires':
    case 'traceback':
      event[field] = value === null ? null : str(value);
      return;
    case 'name':
    case 'args':
    case 'kwargs':
    case 'result':
    case 'exception':
    case 'queue':
    case 'exchange':
    case 'routingKey':
      event[field] = str(value);
      return;
  }
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

function str(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * Reads an event message body: one event, or a list of them (`task.multi`). Elements that
 * are not events are skipped (Celery's receiver would crash on them; one bad sender should
 * not blind a monitor).
 */
export function decodeEventBody(body: unknown): CeleryEvent[] {
  const items = Array.isArray(body) ? body : [body];
  const out: CeleryEvent[] = [];
  for (const item of items) {
    try {
      out.push(decodeEvent(item));
    } catch {
      /* skipped, see above */
    }
  }
  return out;
}

/** Hours west of UTC now, as Celery's `utcoffset()` (spec §0.2): 0 for UTC, -2 for UTC+2. */
export function utcOffsetHoursWest(date = new Date()): number {
  return Math.floor(date.getTimezoneOffset() / 60);
}
