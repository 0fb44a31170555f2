/**
 * Apply options: the options of one call (Celery's `apply_async` options, camelCase), and
 * their wire form (snake_case, as they travel in a signature's `options` dict).
 */
import { signatureToWire } from '../protocol/signature.js';
import { toPythonIso } from '../protocol/time.js';
import type { SignatureData } from '../protocol/types.js';
import type { AnySignature } from './signature.js';

/** Options of one call (Celery's apply_async options). */
export interface ApplyOptions {
  /** Seconds to wait before running. */
  countdown?: number;
  /** Earliest time to run (Date, ISO string or epoch ms). */
  eta?: Date | string | number;
  /** Seconds from now, or a date after which the task is not run (stored REVOKED). */
  expires?: number | Date | string;
  queue?: string;
  exchange?: string;
  routingKey?: string;
  /** 0..9 (on Redis and the embedded default, lower runs first, as Celery on Redis). */
  priority?: number;
  taskId?: string;
  headers?: Record<string, unknown>;
  ignoreResult?: boolean;
  serializer?: 'json' | 'msgpack';
  compression?: 'zlib' | 'gzip' | 'brotli';
  /** Tasks (or canvases) to call with the result. */
  link?: AnySignature | AnySignature[];
  /** Tasks (or canvases) to call with the failed task's id. */
  linkError?: AnySignature | AnySignature[];
  /** Retry publishing when the broker connection fails. */
  retry?: boolean;
  retryPolicy?: {
    maxRetries?: number;
    intervalStart?: number;
    intervalStep?: number;
    intervalMax?: number;
  };
  shadow?: string;
  timeLimit?: number;
  softTimeLimit?: number;
  /** Internal workflow fields, set by canvas and workers. */
  parentId?: string | null;
  rootId?: string | null;
  groupId?: string | null;
  groupIndex?: number | null;
}

/** camelCase option → its wire name (the others keep their name). */
const WIRE_NAMES: Readonly<Record<string, string>> = {
  taskId: 'task_id',
  routingKey: 'routing_key',
  ignoreResult: 'ignore_result',
  linkError: 'link_error',
  retryPolicy: 'retry_policy',
  timeLimit: 'time_limit',
  softTimeLimit: 'soft_time_limit',
  parentId: 'parent_id',
  rootId: 'root_id',
  groupId: 'group_id',
  groupIndex: 'group_index',
};

/**
 * Apply options in wire form, for a signature's `options`: camelCase names become Celery's
 * (`taskId` → `task_id`), linked signatures become their dict form, dates ISO strings.
 * Keys already in wire form pass unchanged; undefined values are dropped.
 */
export function optionsToWire(
  options: ApplyOptions | Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const name = WIRE_NAMES[key] ?? key;
    if (name === 'link' || name === 'link_error') out[name] = linksToWire(value);
    else if (value instanceof Date) out[name] = toPythonIso(value.getTime());
    else out[name] = value;
  }
  return out;
}

/** A link option (one or a list; signatures or dicts) as a list of signature dicts. */
export function linksToWire(value: unknown): unknown[] {
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  return list.map((v) => (hasToData(v) ? signatureToWire(v.toData()) : v));
}

function hasToData(v: unknown): v is { toData(): SignatureData } {
  return (
    typeof v === 'object' && v !== null && typeof (v as { toData?: unknown }).toData === 'function'
  );
}
