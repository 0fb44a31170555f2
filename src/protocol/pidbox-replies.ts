/**
 * The shapes of remote control replies (spec §h.4) that carry structure: request info of held
 * tasks, scheduled entries, kombu queue dicts, worker stats, and the mingle `hello` answer.
 * Encoders write Celery's field names in Celery's order; decoders read them (from Python or
 * celeriac workers) into camelCase values, keeping what they do not model in `extra`.
 */

/** What a worker reports about a task it holds (Celery's `Request.info()`). */
export interface RequestInfo {
  id: string;
  /** The shadow name when set, else the task name. */
  name: string;
  /** Positional arguments, or their repr string when asked with `safe`. */
  args: unknown;
  kwargs: unknown;
  /** The real task name. */
  type: string;
  hostname: string;
  /** Epoch seconds when it started, null while reserved. */
  timeStart: number | null;
  acknowledged: boolean;
  deliveryInfo: {
    exchange: string;
    routingKey: string;
    priority: number | null;
    redelivered: boolean | null;
  };
  /** The pool process running it, where known. */
  workerPid: number | null;
}

/** An entry of `scheduled`: an ETA task a worker holds. */
export interface ScheduledInfo {
  /** ISO 8601 (`+00:00`), or null. */
  eta: string | null;
  /** Timer priority (Celery: always 6 for ETA tasks). */
  priority: number;
  request: RequestInfo;
}

/** A consumed queue as `active_queues` reports it (a subset of kombu's Queue.as_dict()). */
export interface QueueInfo {
  name: string;
  exchange: { name: string; type: string };
  routingKey: string;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
}

/** `stats` (spec §h.4, pidbox_inspect_stats). */
export interface WorkerStats {
  /** Tasks run since start, by name. */
  total: Record<string, number>;
  pid: number;
  /** The worker's logical clock, a string as Celery sends it. */
  clock: string;
  /** Seconds since start. */
  uptime: number;
  pool: {
    maxConcurrency: number;
    processes: number[];
    maxTasksPerChild: number | 'N/A';
    putGuardedBySemaphore: boolean;
    /** [soft, hard] default time limits, 0 = none. */
    timeouts: [number, number];
    extra: Record<string, unknown>;
  };
  broker: {
    hostname: string | null;
    userid: string | null;
    virtualHost: string | null;
    port: number | null;
    insist: boolean;
    ssl: boolean;
    transport: string;
    connectTimeout: number;
    transportOptions: Record<string, unknown>;
    loginMethod: string | null;
    uriPrefix: string | null;
    heartbeat: number;
    failoverStrategy: string;
    alternates: string[];
  };
  prefetchCount: number;
  /** getrusage() fields (utime, stime, maxrss, ...), or 'N/A'. */
  rusage: Record<string, number> | 'N/A';
  extra: Record<string, unknown>;
}

/** Wire dict of a request info, keys in Celery's order. */
export function encodeRequestInfo(info: RequestInfo): Record<string, unknown> {
  return {
    id: info.id,
    name: info.name,
    args: info.args,
    kwargs: info.kwargs,
    type: info.type,
    hostname: info.hostname,
    time_start: info.timeStart,
    acknowledged: info.acknowledged,
    delivery_info: {
      exchange: info.deliveryInfo.exchange,
      routing_key: info.deliveryInfo.routingKey,
      priority: info.deliveryInfo.priority,
      redelivered: info.deliveryInfo.redelivered,
    },
    worker_pid: info.workerPid,
  };
}

/** Reads a request info (missing fields get neutral values). */
export function decodeRequestInfo(wire: unknown): RequestInfo {
  const w = rec(wire);
  const d = rec(w['delivery_info']);
  return {
    id: str(w['id']),
    name: str(w['name']),
    args: w['args'] ?? [],
    kwargs: w['kwargs'] ?? {},
    type: str(w['type'] ?? w['name']),
    hostname: str(w['hostname']),
    timeStart: numOrNull(w['time_start']),
    acknowledged: w['acknowledged'] === true,
    deliveryInfo: {
      exchange: str(d['exchange']),
      routingKey: str(d['routing_key']),
      priority: numOrNull(d['priority']),
      redelivered: typeof d['redelivered'] === 'boolean' ? d['redelivered'] : null,
    },
    workerPid: numOrNull(w['worker_pid']),
  };
}

/** Wire dict of a scheduled entry. */
export function encodeScheduledInfo(info: ScheduledInfo): Record<string, unknown> {
  return { eta: info.eta, priority: info.priority, request: encodeRequestInfo(info.request) };
}

/** Reads a scheduled entry. */
export function decodeScheduledInfo(wire: unknown): ScheduledInfo {
  const w = rec(wire);
  return {
    eta: typeof w['eta'] === 'string' ? w['eta'] : null,
    priority: numOrNull(w['priority']) ?? 0,
    request: decodeRequestInfo(w['request']),
  };
}

/** kombu's `Queue.as_dict(recurse=True)` for a plain durable queue on a direct exchange. */
export function encodeQueueInfo(q: {
  name: string;
  exchange: string;
  exchangeType: string;
  routingKey: string;
}): Record<string, unknown> {
  return {
    name: q.name,
    exchange: {
      name: q.exchange,
      type: q.exchangeType,
      arguments: null,
      durable: true,
      passive: false,
      auto_delete: false,
      delivery_mode: null,
      no_declare: false,
    },
    routing_key: q.routingKey,
    queue_arguments: null,
    binding_arguments: null,
    consumer_arguments: null,
    durable: true,
    exclusive: false,
    auto_delete: false,
    no_ack: false,
    alias: null,
    bindings: [],
    no_declare: null,
    expires: null,
    message_ttl: null,
    max_length: null,
    max_length_bytes: null,
    max_priority: null,
  };
}

/** Reads a queue dict. */
export function decodeQueueInfo(wire: unknown): QueueInfo {
  const w = rec(wire);
  const x = rec(w['exchange']);
  return {
    name: str(w['name']),
    exchange: { name: str(x['name']), type: str(x['type'] ?? 'direct') },
    routingKey: str(w['routing_key']),
    durable: w['durable'] !== false,
    exclusive: w['exclusive'] === true,
    autoDelete: w['auto_delete'] === true,
  };
}

const BROKER_WIRE: ReadonlyArray<[keyof WorkerStats['broker'], string]> = [
  ['hostname', 'hostname'],
  ['userid', 'userid'],
  ['virtualHost', 'virtual_host'],
  ['port', 'port'],
  ['insist', 'insist'],
  ['ssl', 'ssl'],
  ['transport', 'transport'],
  ['connectTimeout', 'connect_timeout'],
  ['transportOptions', 'transport_options'],
  ['loginMethod', 'login_method'],
  ['uriPrefix', 'uri_prefix'],
  ['heartbeat', 'heartbeat'],
  ['failoverStrategy', 'failover_strategy'],
  ['alternates', 'alternates'],
];

/** Wire dict of worker stats, keys in Celery's order. */
export function encodeStats(s: WorkerStats): Record<string, unknown> {
  const broker: Record<string, unknown> = {};
  for (const [key, wire] of BROKER_WIRE) broker[wire] = s.broker[key];
  return {
    total: s.total,
    pid: s.pid,
    clock: s.clock,
    uptime: s.uptime,
    pool: {
      'max-concurrency': s.pool.maxConcurrency,
      processes: s.pool.processes,
      'max-tasks-per-child': s.pool.maxTasksPerChild,
      'put-guarded-by-semaphore': s.pool.putGuardedBySemaphore,
      timeouts: s.pool.timeouts,
      ...s.pool.extra,
    },
    broker,
    prefetch_count: s.prefetchCount,
    rusage: s.rusage,
    ...s.extra,
  };
}

/** Reads worker stats from any Celery worker. */
export function decodeStats(wire: unknown): WorkerStats {
  const w = rec(wire);
  const p = rec(w['pool']);
  const b = rec(w['broker']);
  const poolKnown = new Set([
    'max-concurrency',
    'processes',
    'max-tasks-per-child',
    'put-guarded-by-semaphore',
    'timeouts',
  ]);
  const known = new Set([
    'total',
    'pid',
    'clock',
    'uptime',
    'pool',
    'broker',
    'prefetch_count',
    'rusage',
  ]);
  const timeouts = Array.isArray(p['timeouts']) ? p['timeouts'] : [];
  const mtpc = p['max-tasks-per-child'];
  const broker = {} as Record<string, unknown>;
  for (const [key, wireKey] of BROKER_WIRE) broker[key] = b[wireKey] ?? null;
  const rusage = w['rusage'];
  return {
    total: Object.fromEntries(
      Object.entries(rec(w['total'])).map(([k, v]) => [k, numOrNull(v) ?? 0]),
    ),
    pid: numOrNull(w['pid']) ?? 0,
    clock: w['clock'] === undefined ? '0' : str(w['clock']),
    uptime: numOrNull(w['uptime']) ?? 0,
    pool: {
      maxConcurrency: numOrNull(p['max-concurrency']) ?? 0,
      processes: Array.isArray(p['processes'])
        ? p['processes'].filter((x): x is number => typeof x === 'number')
        : [],
      maxTasksPerChild: typeof mtpc === 'number' ? mtpc : 'N/A',
      putGuardedBySemaphore: p['put-guarded-by-semaphore'] === true,
      timeouts: [numOrNull(timeouts[0]) ?? 0, numOrNull(timeouts[1]) ?? 0],
      extra: Object.fromEntries(Object.entries(p).filter(([k]) => !poolKnown.has(k))),
    },
    broker: broker as WorkerStats['broker'],
    prefetchCount: numOrNull(w['prefetch_count']) ?? 0,
    rusage: isRec(rusage)
      ? Object.fromEntries(Object.entries(rusage).map(([k, v]) => [k, numOrNull(v) ?? 0]))
      : 'N/A',
    extra: Object.fromEntries(Object.entries(w).filter(([k]) => !known.has(k))),
  };
}

/**
 * The `hello` reply: revoked ids in LimitedSet's internal form `{id: [timestamp, id]}` and
 * the worker's clock. Timestamps are epoch seconds written so that Python reads a float
 * (an integral value would be read as an int, which Python's LimitedSet rejects; spec §h.5).
 */
export function encodeHelloReply(
  revoked: ReadonlyArray<[id: string, epochSeconds: number]>,
  clock: number,
): Record<string, unknown> {
  const out: Record<string, [number, string]> = {};
  for (const [id, ts] of revoked) out[id] = [Number.isInteger(ts) ? ts + 1e-6 : ts, id];
  return { revoked: out, clock };
}

/** The ids of a `hello` request's or reply's revoked map (`{id: ts}` or `{id: [ts, id]}`). */
export function revokedIdsOf(revoked: unknown): string[] {
  return Object.keys(rec(revoked));
}

function rec(v: unknown): Record<string, unknown> {
  return isRec(v) ? v : {};
}

function isRec(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v) ?? '';
}

function numOrNull(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return null;
}
