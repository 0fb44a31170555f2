/**
 * Task result metas as key-value result backends store them (spec §d.1), in Python's bytes:
 * `{"status", "result", "traceback", "children", "date_done", ["group_id"], ["parent_id"],
 * [extended: "name", "args", "kwargs", "worker", "retries", "queue"], "task_id"}`.
 *
 * For RETRY, FAILURE and REVOKED the stored `result` is exception info: `TaskMeta.result`
 * holds an ExceptionInfo and the wire holds `{exc_type, exc_message, exc_module}`.
 */
import { MessageMalformedError } from '../errors.js';
import { jsonLoads, pyDumps, quotePython } from '../serialization/json.js';
import { exceptionInfoFromWire, exceptionInfoToWire } from './exception.js';
import { EXCEPTION_STATES } from './states.js';
import type { ExceptionInfo, TaskMeta } from './types.js';

const EXTENDED_KEYS = ['name', 'args', 'kwargs', 'worker', 'retries', 'queue'] as const;

/**
 * Encodes a meta as Celery 5.2.6 writes it (JSON, Python's separators and field order).
 * With `result_extended` Python writes all six extended fields; so do we as soon as one of
 * them is set (the missing ones as null).
 */
export function encodeMeta(meta: TaskMeta): Buffer {
  return Buffer.from(encodeMetaString(meta), 'utf8');
}

/**
 * {@link encodeMeta} as a string (what the Redis backend writes: no Buffer round trip).
 * A task that returned nothing (`undefined`) stores `"result": null`, the bytes of a Python
 * task that returned None (Python's AsyncResult reads `meta['result']` and fails without it).
 */
export function encodeMetaString(meta: TaskMeta): string {
  // A meta missing a field (from untyped code) keeps the generic spelling (the key left out).
  if (meta.traceback === undefined || meta.children === undefined || meta.dateDone === undefined)
    return pyDumps(metaObject(meta));
  try {
    return writeMeta(meta);
  } catch {
    return pyDumps(metaObject(meta)); // the same error, with its path from the meta's root
  }
}

/**
 * The meta written piece by piece, in Python's order and spelling: the fixed fields need no
 * generic walk and no intermediate object (a draining worker stores thousands a second).
 */
function writeMeta(meta: TaskMeta): string {
  const children = meta.children;
  let out =
    '{"status": ' +
    quotePython(meta.status) +
    ', "result": ' +
    pyDumps(wireResult(meta) ?? null) +
    ', "traceback": ' +
    pyDumps(meta.traceback) +
    ', "children": ' +
    (Array.isArray(children) && children.length === 0 ? '[]' : pyDumps(children)) +
    ', "date_done": ' +
    pyDumps(meta.dateDone);
  if (meta.groupId !== undefined) out += ', "group_id": ' + pyDumps(meta.groupId);
  if (meta.parentId !== undefined) out += ', "parent_id": ' + pyDumps(meta.parentId);
  if (EXTENDED_KEYS.some((k) => meta[k] !== undefined)) {
    for (const k of EXTENDED_KEYS) out += ', "' + k + '": ' + pyDumps(meta[k] ?? null);
  }
  return out + ', "task_id": ' + quotePython(meta.taskId) + '}';
}

/** The meta as the object Python dumps (field order included). */
function metaObject(meta: TaskMeta): Record<string, unknown> {
  const out: Record<string, unknown> = {
    status: meta.status,
    result: wireResult(meta) ?? null,
    traceback: meta.traceback,
    children: meta.children,
    date_done: meta.dateDone,
  };
  if (meta.groupId !== undefined) out['group_id'] = meta.groupId;
  if (meta.parentId !== undefined) out['parent_id'] = meta.parentId;
  if (EXTENDED_KEYS.some((k) => meta[k] !== undefined)) {
    for (const k of EXTENDED_KEYS) out[k] = meta[k] ?? null;
  }
  out['task_id'] = meta.taskId;
  return out;
}

/**
 * Encodes a result as the RPC backend publishes it (spec §d.4):
 * `{"task_id", "status", "result", "traceback", "children"}`, no date_done or extended fields.
 */
export function encodeRpcMeta(meta: TaskMeta): Buffer {
  return Buffer.from(
    pyDumps({
      task_id: meta.taskId,
      status: meta.status,
      result: wireResult(meta),
      traceback: meta.traceback,
      children: meta.children,
    }),
    'utf8',
  );
}

function wireResult(meta: TaskMeta): unknown {
  return EXCEPTION_STATES.has(meta.status) && isExceptionInfo(meta.result)
    ? exceptionInfoToWire(meta.result)
    : meta.result;
}

/**
 * Decodes a stored meta (also reads the RPC backend's `{task_id, status, result, traceback,
 * children}`). Unknown fields are dropped; extended fields that are null are left out.
 * @throws DecodeError for bad JSON, MessageMalformedError when it is not a task meta.
 */
export function decodeMeta(data: Buffer | string): TaskMeta {
  const obj = jsonLoads(data);
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new MessageMalformedError('result meta is not a JSON object');
  }
  const o = obj as Record<string, unknown>;
  const status = o['status'];
  const taskId = o['task_id'];
  if (typeof status !== 'string') throw new MessageMalformedError("result meta has no 'status'");
  if (typeof taskId !== 'string') throw new MessageMalformedError("result meta has no 'task_id'");
  const traceback = o['traceback'];
  const dateDone = o['date_done'];
  const children = o['children'];
  let result = o['result'];
  if (EXCEPTION_STATES.has(status)) result = exceptionInfoFromWire(result) ?? result;
  const meta: TaskMeta = {
    taskId,
    status,
    result,
    traceback: typeof traceback === 'string' ? traceback : null,
    children: Array.isArray(children) ? children : [],
    dateDone: typeof dateDone === 'string' ? dateDone : null,
  };
  const str = (k: string): string | undefined => {
    const v = o[k];
    return typeof v === 'string' ? v : undefined;
  };
  setIf(meta, 'groupId', str('group_id'));
  setIf(meta, 'parentId', str('parent_id'));
  setIf(meta, 'name', str('name'));
  setIf(meta, 'worker', str('worker'));
  setIf(meta, 'queue', str('queue'));
  if (Array.isArray(o['args'])) meta.args = o['args'];
  const kwargs = o['kwargs'];
  if (typeof kwargs === 'object' && kwargs !== null && !Array.isArray(kwargs))
    meta.kwargs = kwargs as Record<string, unknown>;
  if (typeof o['retries'] === 'number') meta.retries = o['retries'];
  return meta;
}

function setIf<K extends 'groupId' | 'parentId' | 'name' | 'worker' | 'queue'>(
  meta: TaskMeta,
  key: K,
  value: string | undefined,
): void {
  if (value !== undefined) meta[key] = value;
}

function isExceptionInfo(v: unknown): v is ExceptionInfo {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o['excType'] === 'string' &&
    typeof o['excModule'] === 'string' &&
    Array.isArray(o['excMessage'])
  );
}
