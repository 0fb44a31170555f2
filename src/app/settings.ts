/**
 * Celery's settings in camelCase: one table gives each setting's Python name, default and
 * validator. `docs/compatibility.md` is written from the same list.
 */
import { ConfigError } from '../errors.js';

/** Validates one raw value; returns the typed value or throws with a sentence saying what is expected. */
type Check<T> = (value: unknown) => T;

interface SettingSpec<T> {
  python: string;
  default: T;
  check: Check<T>;
  doc: string;
}

const str: Check<string> = (v) => {
  if (typeof v !== 'string') throw new TypeError('expected a string');
  return v;
};
const optStr: Check<string | null> = (v) => (v === null || v === undefined ? null : str(v));
const bool: Check<boolean> = (v) => {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  throw new TypeError('expected true or false');
};
const num: Check<number> = (v) => {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
    throw new TypeError('expected a non-negative number');
  }
  return n;
};
const optNum: Check<number | null> = (v) => (v === null || v === undefined ? null : num(v));
const int: Check<number> = (v) => {
  const n = num(v);
  if (!Number.isInteger(n)) throw new TypeError('expected a whole number');
  return n;
};
const strList: Check<string[]> = (v) => {
  const list = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v;
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) {
    throw new TypeError('expected a list of strings');
  }
  return list;
};
const record: Check<Record<string, unknown>> = (v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new TypeError('expected an object');
  return v as Record<string, unknown>;
};
const oneOf =
  <T extends string>(...values: T[]): Check<T> =>
  (v) => {
    if (typeof v !== 'string' || !values.includes(v as T)) {
      throw new TypeError(`expected one of ${values.map((x) => `'${x}'`).join(', ')}`);
    }
    return v as T;
  };

function spec<T>(python: string, def: T, check: Check<T>, doc: string): SettingSpec<T> {
  return { python, default: def, check, doc };
}

/** The settings celeriac supports, with Celery's names and celeriac's defaults. */
export const SETTINGS = {
  brokerUrl: spec(
    'broker_url',
    null as string | null,
    optStr,
    'Broker URL; unset = the embedded SQLite file',
  ),
  resultBackend: spec(
    'result_backend',
    null as string | null,
    optStr,
    'Result store URL; unset = the embedded SQLite file',
  ),
  brokerTransportOptions: spec(
    'broker_transport_options',
    {},
    record,
    'Options for the transport (visibilityTimeout, ...)',
  ),
  resultBackendTransportOptions: spec(
    'result_backend_transport_options',
    {},
    record,
    'Options for the result store',
  ),
  brokerConnectionTimeout: spec(
    'broker_connection_timeout',
    4,
    num,
    'Seconds to wait for the broker to answer',
  ),
  brokerConnectionRetryOnStartup: spec(
    'broker_connection_retry_on_startup',
    true,
    bool,
    'Keep retrying the broker at start-up',
  ),
  taskSerializer: spec(
    'task_serializer',
    'json',
    oneOf('json', 'msgpack'),
    'Serializer for task messages',
  ),
  resultSerializer: spec(
    'result_serializer',
    'json',
    oneOf('json', 'msgpack'),
    'Serializer for results',
  ),
  acceptContent: spec(
    'accept_content',
    ['json'],
    strList,
    'Content types (or names) a worker accepts',
  ),
  resultAcceptContent: spec(
    'result_accept_content',
    null as string[] | null,
    (v) => (v == null ? null : strList(v)),
    'Content types accepted for results',
  ),
  taskCompression: spec(
    'task_compression',
    null as string | null,
    optStr,
    'Compression for task messages (zlib, gzip, brotli)',
  ),
  resultCompression: spec(
    'result_compression',
    null as string | null,
    optStr,
    'Compression for results',
  ),
  taskProtocol: spec(
    'task_protocol',
    2,
    (v) => {
      if (v !== 2 && v !== 1) throw new TypeError('expected 2 (1 is read, never written)');
      return 2 as const;
    },
    'Message protocol version written',
  ),
  resultExpires: spec('result_expires', 86400, num, 'Seconds results are kept (0 = forever)'),
  resultExtended: spec(
    'result_extended',
    false,
    bool,
    'Store name, args, kwargs, worker, retries and queue with results',
  ),
  taskIgnoreResult: spec('task_ignore_result', false, bool, 'Do not store results by default'),
  taskStoreErrorsEvenIfIgnored: spec(
    'task_store_errors_even_if_ignored',
    false,
    bool,
    'Store failures of tasks that ignore results',
  ),
  taskTrackStarted: spec('task_track_started', false, bool, 'Store STARTED when a task starts'),
  taskDefaultQueue: spec('task_default_queue', 'celery', str, 'Queue of tasks with no route'),
  taskDefaultExchange: spec(
    'task_default_exchange',
    'celery',
    str,
    'Exchange of the default queue',
  ),
  taskDefaultRoutingKey: spec(
    'task_default_routing_key',
    null as string | null,
    optStr,
    'Routing key of the default queue (default: the queue name)',
  ),
  taskDefaultPriority: spec(
    'task_default_priority',
    null as number | null,
    optNum,
    'Priority of tasks sent without one',
  ),
  taskDefaultRateLimit: spec(
    'task_default_rate_limit',
    null as string | null,
    optStr,
    'Rate limit of tasks with none of their own',
  ),
  taskRoutes: spec('task_routes', {}, record, 'Task name (or glob) → { queue } or a queue name'),
  taskAcksLate: spec(
    'task_acks_late',
    true,
    bool,
    'Acknowledge after the task finished (celeriac default: true)',
  ),
  taskRejectOnWorkerLost: spec(
    'task_reject_on_worker_lost',
    false,
    bool,
    'Requeue a task whose worker process died',
  ),
  taskTimeLimit: spec(
    'task_time_limit',
    null as number | null,
    optNum,
    'Hard time limit in seconds',
  ),
  taskSoftTimeLimit: spec(
    'task_soft_time_limit',
    null as number | null,
    optNum,
    'Soft time limit in seconds',
  ),
  taskAlwaysEager: spec(
    'task_always_eager',
    false,
    bool,
    'Run tasks in-process when called with delay()',
  ),
  taskEagerPropagates: spec(
    'task_eager_propagates',
    false,
    bool,
    'Eager tasks rethrow their errors',
  ),
  taskStoreEagerResult: spec(
    'task_store_eager_result',
    false,
    bool,
    'Eager tasks store their results',
  ),
  taskPublishRetry: spec(
    'task_publish_retry',
    true,
    bool,
    'Retry publishing when the broker connection fails',
  ),
  taskPublishRetryPolicy: spec(
    'task_publish_retry_policy',
    { maxRetries: 3, intervalStart: 0, intervalStep: 0.2, intervalMax: 0.2 },
    record,
    'maxRetries, intervalStart, intervalStep, intervalMax',
  ),
  taskSendSentEvent: spec('task_send_sent_event', false, bool, 'Send task-sent events'),
  taskDeadLetterQueue: spec(
    '(celeriac)',
    'celeriac.dead_letter',
    str,
    'Queue that receives messages that cannot be processed',
  ),
  taskMaxRedeliveries: spec(
    '(celeriac)',
    5,
    int,
    'Deliveries of one message after which it goes to the dead-letter queue',
  ),
  workerConcurrency: spec(
    'worker_concurrency',
    null as number | null,
    optNum,
    'Task slots (default: number of CPUs)',
  ),
  workerPrefetchMultiplier: spec(
    'worker_prefetch_multiplier',
    1,
    int,
    'Messages reserved per slot (celeriac default: 1, no starvation)',
  ),
  workerPool: spec(
    'worker_pool',
    'event',
    oneOf('event', 'prefork', 'processes', 'threads', 'solo'),
    'Pool (-P): event (async tasks on the event loop), prefork, threads, solo',
  ),
  workerMaxTasksPerChild: spec(
    'worker_max_tasks_per_child',
    null as number | null,
    optNum,
    'Replace a pool child after this many tasks (--max-tasks-per-child)',
  ),
  workerMaxMemoryPerChild: spec(
    'worker_max_memory_per_child',
    null as number | null,
    optNum,
    'Replace a pool child above this resident memory, KiB (--max-memory-per-child)',
  ),
  workerStateDb: spec(
    'worker_state_db',
    null as string | null,
    optStr,
    'File that keeps revoked task ids across restarts (-S/--statedb)',
  ),
  workerDisableRateLimits: spec(
    'worker_disable_rate_limits',
    false,
    bool,
    'Ignore every rate limit (task options and rate_limit commands)',
  ),
  workerSendTaskEvents: spec('worker_send_task_events', false, bool, 'Send task events (-E)'),
  workerHeartbeatInterval: spec(
    '(worker heartbeat)',
    2,
    num,
    'Seconds between worker-heartbeat events',
  ),
  workerEnableRemoteControl: spec(
    'worker_enable_remote_control',
    true,
    bool,
    'Workers answer remote control commands (inspect, revoke, ...)',
  ),
  workerPoolRestarts: spec(
    'worker_pool_restarts',
    false,
    bool,
    'Allow the pool_restart control command',
  ),
  controlExchange: spec(
    'control_exchange',
    'celery',
    str,
    'Name prefix of the remote control exchanges (<name>.pidbox)',
  ),
  eventExchange: spec('event_exchange', 'celeryev', str, 'Exchange events are sent on'),
  eventSerializer: spec(
    'event_serializer',
    'json',
    oneOf('json', 'msgpack'),
    'Serializer for events',
  ),
  timezone: spec('timezone', 'UTC', str, 'Time zone for naive dates'),
  enableUtc: spec('enable_utc', true, bool, 'Naive dates are UTC'),
  include: spec('include', [] as string[], strList, 'Modules to import when a worker starts'),
} as const;

export type SettingName = keyof typeof SETTINGS;

/** Typed settings, all keys present (defaults filled in). */
export type Settings = { -readonly [K in SettingName]: (typeof SETTINGS)[K]['default'] };

/** What users pass: any subset, plus the `broker` / `backend` shorthands. */
export type SettingsInput = Partial<Settings> & {
  broker?: string | null;
  backend?: string | null;
};

const ALIASES: Record<string, SettingName> = { broker: 'brokerUrl', backend: 'resultBackend' };
const PYTHON_NAMES = new Map<string, SettingName>(
  (Object.keys(SETTINGS) as SettingName[]).map((k) => [SETTINGS[k].python, k]),
);

/** The defaults. */
export function defaultSettings(): Settings {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(SETTINGS) as SettingName[]) {
    const def: unknown = SETTINGS[key].default;
    out[key] = Array.isArray(def)
      ? [...(def as unknown[])]
      : typeof def === 'object' && def !== null
        ? { ...def }
        : def;
  }
  return out as Settings;
}

/**
 * Validates `input` and applies it over `base`. Unknown keys and bad values throw a ConfigError
 * that names the setting and says what to do.
 */
export function applySettings(base: Settings, input: Record<string, unknown>): Settings {
  const out: Record<string, unknown> = { ...base };
  for (const [rawKey, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const key = resolveKey(rawKey);
    const setting: SettingSpec<unknown> = SETTINGS[key];
    try {
      out[key] = setting.check(value);
    } catch (error) {
      throw new ConfigError(
        `Setting '${rawKey}' has a bad value ${JSON.stringify(value)}: ${(error as Error).message}`,
        { setting: rawKey, hint: `${setting.doc}; default ${JSON.stringify(setting.default)}` },
      );
    }
  }
  return out as Settings;
}

function resolveKey(rawKey: string): SettingName {
  if (rawKey in SETTINGS) return rawKey as SettingName;
  const alias = ALIASES[rawKey];
  if (alias) return alias;
  const fromPython = PYTHON_NAMES.get(rawKey) ?? PYTHON_NAMES.get(rawKey.toLowerCase());
  if (fromPython) return fromPython;
  const suggestion = closest(rawKey);
  throw new ConfigError(`Unknown setting '${rawKey}'`, {
    setting: rawKey,
    code: 'CONFIG_UNKNOWN_KEY',
    hint: suggestion
      ? `did you mean '${suggestion}'? (docs/compatibility.md lists every setting)`
      : 'docs/compatibility.md lists every setting and its Python name',
  });
}

function closest(name: string): SettingName | undefined {
  let best: SettingName | undefined;
  let bestScore = Infinity;
  const lower = name.toLowerCase();
  for (const key of Object.keys(SETTINGS) as SettingName[]) {
    const score = editDistance(lower, key.toLowerCase());
    if (score < bestScore) {
      bestScore = score;
      best = key;
    }
  }
  return bestScore <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** Settings read from the environment, as Celery does. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (env.CELERY_BROKER_URL) out.brokerUrl = env.CELERY_BROKER_URL;
  if (env.CELERY_RESULT_BACKEND) out.resultBackend = env.CELERY_RESULT_BACKEND;
  return out;
}
