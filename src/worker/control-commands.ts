/**
 * The remote control commands a worker answers (Celery's `celery.worker.control`, spec §h.4),
 * with Celery's arguments and reply shapes, so Python's `celery inspect` / `celery control`
 * and Flower steer celeriac workers as they steer Python ones. Commands that only read state
 * are in control-inspect.ts.
 */
import { constants } from 'node:os';
import type { Celery } from '../app/celery.js';
import type { EventDispatcher } from '../events/dispatcher.js';
import type { Pool } from './pool/types.js';
import { inspectCommands } from './control-inspect.js';
import { NO_REPLY, PyError, type ControlHandler } from './mailbox.js';
import type { WorkerState } from './state.js';
import type { LamportClock } from '../events/clock.js';
import type { Transport } from '../transport/types.js';

/** A queue the worker consumes, as active_queues reports it. */
export interface ConsumedQueue {
  name: string;
  exchange: string;
  exchangeType: string;
  routingKey: string;
}

/** What the commands can see and do in a worker. */
export interface ControlContext {
  readonly app: Celery;
  /** celeriac's version. */
  readonly version: string;
  readonly hostname: string;
  readonly state: WorkerState;
  readonly clock: LamportClock;
  readonly transport: Transport;
  readonly pool: Pool;
  /** Epoch ms of the worker's start. */
  readonly startedAt: number;
  readonly concurrency: number;
  readonly prefetchCount: number;
  readonly maxTasksPerChild: number | null;
  readonly queues: readonly ConsumedQueue[];
  /** Null when the transport has no fanout (no events then). */
  readonly events: EventDispatcher | null;
  /** Sends a worker-heartbeat event now. */
  heartbeat(): void;
  /** Stops a running task: its signal aborts, its runner is killed after the grace period. */
  terminate(taskId: string, graceMs: number): void;
  /** Changes the number of task slots. */
  resize(concurrency: number): void;
  /** True when the worker autoscales (pool_grow/shrink are refused then, as in Celery). */
  readonly autoscaling: boolean;
  /** New autoscale bounds; null when the worker does not autoscale. */
  autoscale(max: number | null, min: number | null): { max: number; min: number } | null;
  addQueue(queue: ConsumedQueue): Promise<void>;
  cancelQueue(queue: string): void;
  /** Warm shutdown, as if the worker got SIGTERM. */
  shutdown(reason: string): void;
  /** Replaces the pool's children, where the pool can. */
  restartPool?: (() => Promise<void>) | undefined;
}

/** Milliseconds a terminated task gets to end by itself (SIGKILL: none) before it is killed. */
export const TERMINATE_GRACE_MS = 1000;

/** Every command by name, aliases included. */
export function controlCommands(ctx: ControlContext): Map<string, ControlHandler> {
  const commands = new Map<string, ControlHandler>(inspectCommands(ctx));
  const add = (name: string, handler: ControlHandler): void => void commands.set(name, handler);

  add('revoke', (a) => revoke(ctx, a['task_id'], a['terminate'] === true, a['signal']));
  add('terminate', (a) => revoke(ctx, a['task_id'], true, a['signal']));
  add('rate_limit', (a) => rateLimit(ctx, argText(a['task_name']), a['rate_limit']));
  add('time_limit', (a) => {
    const name = argText(a['task_name']);
    if (!isLocalTask(ctx, name)) return { error: 'unknown task' };
    ctx.state.timeLimits.set(name, { hard: optNumber(a['hard']), soft: optNumber(a['soft']) });
    return { ok: 'time limits set successfully' };
  });
  add('heartbeat', () => {
    ctx.heartbeat();
    return null;
  });
  add('enable_events', () => {
    if (ctx.events?.enableGroup('task')) return { ok: 'task events enabled' };
    return { ok: 'task events already enabled' };
  });
  add('disable_events', () => {
    if (ctx.events?.disableGroup('task')) return { ok: 'task events disabled' };
    return { ok: 'task events already disabled' };
  });
  add('pool_grow', (a) => {
    if (ctx.autoscaling) {
      return {
        error: 'pool_grow is not supported with autoscale. Adjust autoscale range instead.',
      };
    }
    ctx.resize(ctx.concurrency + positiveInt(a['n']));
    return { ok: 'pool will grow' };
  });
  add('pool_shrink', (a) => {
    if (ctx.autoscaling) {
      return {
        error: 'pool_shrink is not supported with autoscale. Adjust autoscale range instead.',
      };
    }
    ctx.resize(Math.max(1, ctx.concurrency - positiveInt(a['n'])));
    return { ok: 'pool will shrink' };
  });
  add('autoscale', (a) => {
    const bounds = ctx.autoscale(optInt(a['max']), optInt(a['min']));
    if (!bounds) throw new PyError('ValueError', 'Autoscale not enabled');
    return { ok: `autoscale now max=${bounds.max} min=${bounds.min}` };
  });
  add('pool_restart', async () => {
    if (!ctx.app.conf.workerPoolRestarts)
      throw new PyError('ValueError', 'Pool restarts not enabled');
    if (!ctx.restartPool) {
      throw new PyError(
        'ValueError',
        `Pool restarts are not possible with the ${ctx.pool.name} pool`,
      );
    }
    await ctx.restartPool();
    return { ok: 'reload started' };
  });
  add('shutdown', (a) => {
    const reason = typeof a['msg'] === 'string' ? a['msg'] : 'Got shutdown from remote';
    setImmediate(() => ctx.shutdown(reason));
    return NO_REPLY;
  });
  add('add_consumer', async (a) => {
    const queue = argText(a['queue']);
    if (!queue)
      throw new PyError(
        'TypeError',
        "add_consumer() missing 1 required positional argument: 'queue'",
      );
    if (!ctx.queues.some((q) => q.name === queue)) {
      await ctx.addQueue({
        name: queue,
        exchange: typeof a['exchange'] === 'string' && a['exchange'] ? a['exchange'] : queue,
        exchangeType:
          typeof a['exchange_type'] === 'string' && a['exchange_type']
            ? a['exchange_type']
            : 'direct',
        routingKey:
          typeof a['routing_key'] === 'string' && a['routing_key'] ? a['routing_key'] : queue,
      });
    }
    return { ok: `add consumer ${queue}` };
  });
  add('cancel_consumer', (a) => {
    const queue = argText(a['queue']);
    ctx.cancelQueue(queue);
    return { ok: `no longer consuming from ${queue}` };
  });
  add('election', () => null);
  return commands;
}

function revoke(
  ctx: ControlContext,
  taskId: unknown,
  terminate: boolean,
  signal: unknown,
): unknown {
  const ids = [...new Set(listOf(taskId).map(argText))];
  const now = Date.now();
  for (const id of ids) ctx.state.revoked.add(id, now);
  if (terminate) {
    const signum = signalNumber(signal);
    const terminated: string[] = [];
    for (const id of ids) {
      const held = ctx.state.held.get(id);
      if (!held) continue;
      terminated.push(id);
      held.terminateSignal = signum;
      if (held.startedAt !== null)
        ctx.terminate(id, signum === constants.signals.SIGKILL ? 0 : TERMINATE_GRACE_MS);
    }
    return terminated.length === 0
      ? { ok: 'terminate: tasks unknown' }
      : { ok: `terminate: ${terminated.join(', ')}` };
  }
  return { ok: `tasks ${ids.join(', ')} flagged as revoked` };
}

/** `SIGKILL`, `KILL`, `9` → 9 (Celery's `signals.signum`). */
export function signalNumber(signal: unknown): number {
  if (signal === undefined || signal === null || signal === '') return constants.signals.SIGTERM;
  if (typeof signal === 'number' && Number.isInteger(signal)) return signal;
  const text = argText(signal).toUpperCase();
  if (/^\d+$/.test(text)) return Number(text);
  const name = (text.startsWith('SIG') ? text : `SIG${text}`) as keyof typeof constants.signals;
  const num = constants.signals[name];
  if (typeof num !== 'number')
    throw new PyError('TypeError', `signal name '${argText(signal)}' not known`);
  return num;
}

/** Celery's rate_limit command, with its checks in its order. */
function rateLimit(ctx: ControlContext, name: string, limit: unknown): unknown {
  let perSecond: number | null;
  try {
    perSecond = pythonRate(limit);
  } catch (error) {
    if (error instanceof PyError && error.pyType === 'ValueError') {
      return { error: `Invalid rate limit string: ${error.repr}` };
    }
    throw error;
  }
  if (!isLocalTask(ctx, name)) return { error: 'unknown task' };
  const disabled = limit === null || limit === undefined || limit === '' || limit === 0;
  ctx.state.rateLimits.set(name, perSecond, disabled ? null : argText(limit));
  if (disabled) {
    return { ok: 'rate limit disabled successfully' };
  }
  return { ok: 'new rate limit set successfully' };
}

/**
 * Celery's `rate()`: `'10/m'` → tasks per second. The unit is looked up before the number is
 * read, so `'abc/x'` fails with KeyError('x') and `'abc/s'` with ValueError, as in Python.
 */
export function pythonRate(limit: unknown): number | null {
  if (limit === null || limit === undefined || limit === '' || limit === 0) return null;
  if (typeof limit === 'number') return limit > 0 ? limit : null;
  const text = argText(limit);
  const slash = text.indexOf('/');
  const ops = slash === -1 ? text : text.slice(0, slash);
  const unit = slash === -1 ? '' : text.slice(slash + 1);
  const divisor = { '': 1, s: 1, m: 60, h: 3600 }[unit];
  if (divisor === undefined) throw new PyError('KeyError', unit);
  const n = ops.trim() === '' ? NaN : Number(ops.trim());
  if (Number.isNaN(n))
    throw new PyError('ValueError', `could not convert string to float: ${pyQuote(ops)}`);
  const rate = n / divisor;
  return rate > 0 ? rate : null;
}

function pyQuote(s: string): string {
  return s.includes("'") && !s.includes('"') ? `"${s}"` : `'${s.replace(/'/g, "\\'")}'`;
}

function isLocalTask(ctx: ControlContext, name: string): boolean {
  const def = ctx.app.tasks.get(name);
  return def !== undefined && def.local;
}

function listOf(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

function optNumber(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : null;
}

function optInt(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = Math.floor(Number(v));
  return Number.isFinite(n) && n > 0 ? n : null;
}

function positiveInt(v: unknown): number {
  const n = v === undefined || v === null ? 1 : Math.floor(Number(v));
  return Number.isFinite(n) && n > 0 ? n : 1;
}

/** A command argument as text: strings as they are, numbers and booleans printed, else JSON. */
export function argText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v) ?? '';
}
