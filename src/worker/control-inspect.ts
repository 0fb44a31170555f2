/**
 * The read-only remote control commands (Celery's `inspect` commands, spec §h.4): ping,
 * stats, active, scheduled, reserved, revoked, registered, active_queues, query_task, conf,
 * report, clock, hello, with Celery's reply shapes (Flower polls the first eight).
 */
import { release, type as osType, arch } from 'node:os';
import { maskUrl } from '../app/connections.js';
import { SETTINGS, defaultSettings, type SettingName } from '../app/settings.js';
import {
  encodeHelloReply,
  encodeQueueInfo,
  encodeRequestInfo,
  encodeScheduledInfo,
  encodeStats,
  revokedIdsOf,
  type RequestInfo,
  type WorkerStats,
} from '../protocol/pidbox-replies.js';
import { pyRepr } from '../protocol/repr.js';
import { toPythonIso } from '../protocol/time.js';
import { argText, type ControlContext } from './control-commands.js';
import type { ControlHandler } from './mailbox.js';
import type { HeldTask } from './state.js';

/** Celery's HIDDEN_SETTINGS: values of matching names are masked in `conf`. */
const HIDDEN = /API|TOKEN|KEY|SECRET|PASS|PROFANITIES_LIST|SIGNATURE|DATABASE/i;

/** The inspect commands, with Celery's aliases (dump_active, ...). */
export function inspectCommands(ctx: ControlContext): Array<[string, ControlHandler]> {
  const { state } = ctx;
  const info = (held: HeldTask, safe = false): Record<string, unknown> =>
    encodeRequestInfo(requestInfo(ctx, held, safe));
  const active: ControlHandler = (a) => state.active().map((h) => info(h, a['safe'] === true));
  const reserved: ControlHandler = () =>
    state
      .reserved()
      .filter((h) => !isScheduled(h, ctx))
      .map((h) => info(h));
  // ETA tasks held in memory (transports without a due-time store) and those parked in the
  // broker's due-time store by this worker.
  const scheduled: ControlHandler = () =>
    [...state.reserved().filter((h) => isScheduled(h, ctx)), ...state.scheduled(ctx.app.now())].map(
      (h) =>
        encodeScheduledInfo({
          eta: h.message.eta === null ? null : toPythonIso(h.message.eta),
          priority: 6,
          request: requestInfo(ctx, h, false),
        }),
    );
  const revoked: ControlHandler = () => state.revoked.ids();
  const registered: ControlHandler = (a) =>
    registeredTasks(ctx, a['taskinfoitems'], a['builtins'] === true);
  const conf: ControlHandler = (a) =>
    confTable(ctx, a['with_defaults'] === true || a['with_defaults'] === 'true');
  return [
    ['ping', () => ({ ok: 'pong' })],
    ['stats', () => encodeStats(stats(ctx))],
    ['active', active],
    ['dump_active', active],
    ['reserved', reserved],
    ['dump_reserved', reserved],
    ['scheduled', scheduled],
    ['dump_schedule', scheduled],
    ['revoked', revoked],
    ['dump_revoked', revoked],
    ['registered', registered],
    ['dump_tasks', registered],
    ['conf', conf],
    ['dump_conf', conf],
    ['active_queues', () => ctx.queues.map(encodeQueueInfo)],
    ['clock', () => ({ clock: ctx.clock.value })],
    ['report', () => ({ ok: report(ctx) })],
    [
      'query_task',
      (a) => {
        const ids = (Array.isArray(a['ids']) ? a['ids'] : a['ids'] ? [a['ids']] : []).map(argText);
        const out: Record<string, unknown> = {};
        for (const id of ids) {
          const held = state.held.get(id);
          if (held) out[id] = [held.startedAt === null ? 'reserved' : 'active', info(held)];
        }
        return out;
      },
    ],
    [
      'hello',
      (a) => {
        if (a['from_node'] === ctx.hostname) return null;
        const now = Date.now();
        for (const id of revokedIdsOf(a['revoked'])) state.revoked.add(id, now);
        const entries = state.revoked
          .entries()
          .filter(([id]) => state.revoked.has(id, now))
          .map(([id, at]): [string, number] => [id, at / 1000]);
        return encodeHelloReply(entries, ctx.clock.forward());
      },
    ],
  ];
}

/** An ETA task held in memory (transports without a broker-side delay store). */
function isScheduled(held: HeldTask, ctx: ControlContext): boolean {
  return held.startedAt === null && held.message.eta !== null && held.message.eta > ctx.app.now();
}

/** Celery's Request.info() for a held task. */
export function requestInfo(ctx: ControlContext, held: HeldTask, safe: boolean): RequestInfo {
  const m = held.message;
  return {
    id: m.id,
    name: m.shadow ?? m.task,
    args: safe ? m.argsrepr : m.args,
    kwargs: safe ? m.kwargsrepr : m.kwargs,
    type: m.task,
    hostname: ctx.hostname,
    timeStart: held.startedAt === null ? null : held.startedAt / 1000,
    acknowledged: held.acknowledged,
    deliveryInfo: {
      exchange: held.delivery.exchange,
      routingKey: held.delivery.routingKey,
      priority: m.priority ?? 0,
      redelivered: held.delivery.redelivered ? true : null,
    },
    workerPid: held.startedAt === null ? null : held.workerPid,
  };
}

function stats(ctx: ControlContext): WorkerStats {
  const conf = ctx.app.conf;
  return {
    total: Object.fromEntries(ctx.state.totals),
    pid: process.pid,
    clock: String(ctx.clock.value),
    uptime: Math.round((Date.now() - ctx.startedAt) / 1000),
    pool: {
      maxConcurrency: ctx.concurrency,
      processes: ctx.pool.pids.length > 0 ? [...ctx.pool.pids] : [process.pid],
      maxTasksPerChild: ctx.maxTasksPerChild ?? 'N/A',
      putGuardedBySemaphore: false,
      timeouts: [conf.taskSoftTimeLimit ?? 0, conf.taskTimeLimit ?? 0],
      extra: { implementation: ctx.pool.name },
    },
    broker: brokerInfo(ctx),
    prefetchCount: ctx.prefetchCount,
    rusage: rusage(),
    extra: {},
  };
}

function brokerInfo(ctx: ControlContext): WorkerStats['broker'] {
  const raw = ctx.app.brokerUrl;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  const path = url ? decodeURIComponent(url.pathname.replace(/^\//, '')) : '';
  return {
    hostname: url?.hostname || null,
    userid: url?.username ? decodeURIComponent(url.username) : null,
    virtualHost: path || (ctx.transport.kind === 'redis' ? '0' : null),
    port: url?.port ? Number(url.port) : null,
    insist: false,
    ssl: url?.protocol === 'rediss:',
    transport: ctx.transport.kind,
    connectTimeout: ctx.app.conf.brokerConnectionTimeout,
    transportOptions: ctx.app.conf.brokerTransportOptions,
    loginMethod: null,
    uriPrefix: null,
    heartbeat: 0,
    failoverStrategy: 'round-robin',
    alternates: [],
  };
}

/** getrusage(RUSAGE_SELF) with Python's field names. */
function rusage(): Record<string, number> {
  const r = process.resourceUsage();
  return {
    utime: r.userCPUTime / 1e6,
    stime: r.systemCPUTime / 1e6,
    maxrss: r.maxRSS,
    ixrss: r.sharedMemorySize,
    idrss: r.unsharedDataSize,
    isrss: r.unsharedStackSize,
    minflt: r.minorPageFault,
    majflt: r.majorPageFault,
    nswap: r.swappedOut,
    inblock: r.fsRead,
    oublock: r.fsWrite,
    msgsnd: r.ipcSent,
    msgrcv: r.ipcReceived,
    nsignals: r.signalsCount,
    nvcsw: r.voluntaryContextSwitches,
    nivcsw: r.involuntaryContextSwitches,
  };
}

/** Task attributes `registered` can show, by Celery's attribute names. */
function taskAttribute(ctx: ControlContext, name: string, attr: string): unknown {
  const o = ctx.app.tasks.get(name)?.options;
  if (!o) return undefined;
  // Celery's rate_limit and time_limit commands change the task's attributes: show what is in force.
  const limits = ctx.state.timeLimits.get(name);
  switch (attr) {
    case 'rate_limit': {
      const changed = ctx.state.rateLimits.override(name);
      return changed ? changed.limit : o.rateLimit;
    }
    case 'ignore_result':
      return o.ignoreResult ?? ctx.app.conf.taskIgnoreResult;
    case 'acks_late':
      return o.acksLate ?? ctx.app.conf.taskAcksLate;
    // The limit the executor applies: a run-time value, else the task's own.
    case 'time_limit':
      return limits?.hard ?? o.timeLimit;
    case 'soft_time_limit':
      return limits?.soft ?? o.softTimeLimit;
    case 'max_retries':
      return o.maxRetries;
    case 'default_retry_delay':
      return o.defaultRetryDelay;
    case 'serializer':
      return o.serializer ?? ctx.app.conf.taskSerializer;
    case 'queue':
      return o.queue;
    case 'priority':
      return o.priority;
    case 'track_started':
      return o.trackStarted ?? ctx.app.conf.taskTrackStarted;
    default:
      return undefined;
  }
}

/** Celery's `registered`: sorted names (no `celery.*` unless builtins), with chosen attributes. */
function registeredTasks(ctx: ControlContext, items: unknown, builtins: boolean): string[] {
  const attrs =
    Array.isArray(items) && items.length > 0
      ? items.map(String)
      : ['exchange', 'routing_key', 'rate_limit'];
  const names = [...ctx.app.tasks.values()]
    .filter((t) => t.local && (builtins || !t.name.startsWith('celery.')))
    .map((t) => t.name)
    .sort();
  return names.map((name) => {
    const fields = attrs
      .map((attr) => [attr, taskAttribute(ctx, name, attr)] as const)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([attr, v]) => `${attr}=${typeof v === 'string' ? v : pyRepr(v)}`);
    return fields.length > 0 ? `${name} [${fields.join(' ')}]` : name;
  });
}

/** Settings by Celery's names (celeriac-only ones by their camelCase names), secrets masked. */
function confTable(ctx: ControlContext, withDefaults: boolean): Record<string, unknown> {
  const conf = ctx.app.conf as Readonly<Record<SettingName, unknown>>;
  const defaults = defaultSettings() as Record<SettingName, unknown>;
  const effective: Partial<Record<SettingName, unknown>> = {
    brokerUrl: ctx.app.brokerUrl,
    resultBackend: ctx.app.backendUrl,
  };
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(SETTINGS) as SettingName[]) {
    const python = SETTINGS[key].python;
    const name = python.startsWith('(') ? key : python;
    const value = key in effective ? effective[key] : conf[key];
    if (!withDefaults && JSON.stringify(value) === JSON.stringify(defaults[key])) continue;
    out[name] = HIDDEN.test(name)
      ? '********'
      : typeof value === 'string' && value.includes('://')
        ? maskUrl(value)
        : jsonable(value);
  }
  return out;
}

/** Values as JSON can carry them; others as their Python repr (Celery's safe_repr filter). */
function jsonable(v: unknown): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : pyRepr(v);
  if (Array.isArray(v)) return v.map(jsonable);
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, jsonable(x)]),
    );
  }
  return pyRepr(v);
}

/** Celery's bugreport text, with celeriac's software and settings. */
function report(ctx: ControlContext): string {
  const settings = Object.entries(confTable(ctx, false))
    .map(([k, v]) => `${k}: ${pyRepr(v)}`)
    .join('\n');
  return (
    `\nsoftware -> celeriac:${ctx.version} node:${process.versions.node}\n` +
    `platform -> system:${osType()} arch:${arch()}\n` +
    `            kernel version:${release()} imp:Node.js\n` +
    `loader   -> celeriac\n` +
    `settings -> transport:${ctx.transport.kind} results:${maskUrl(ctx.app.backendUrl)}\n\n` +
    `${settings}\n`
  );
}
