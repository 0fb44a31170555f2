/**
 * Signatures in Celery's dict form (spec §f.1):
 * `{"task", "args", "kwargs", "options", "subtask_type", "immutable"}`, in that order.
 *
 * Only the top level is converted. Nested canvases keep their parts as wire dicts
 * (`kwargs.tasks` of a group or chain, `kwargs.header`/`body` of a chord, and
 * `options.link`, `options.chord`...), so they go back on the wire unchanged.
 */
import { MessageMalformedError } from '../errors.js';
import type { SignatureData } from './types.js';

const SUBTASK_TYPES: ReadonlySet<string> = new Set([
  'chain',
  'group',
  'chord',
  'chunks',
  'xmap',
  'xstarmap',
]);
const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'task',
  'args',
  'kwargs',
  'options',
  'subtask_type',
  'immutable',
]);

/**
 * The wire dict of a signature; keys from `extra` follow Celery's six keys.
 * An object that is already a wire dict (it has `subtask_type` and no `subtaskType`) is
 * returned as a copy, so code that passes `options.chord` straight through still works.
 */
export function signatureToWire(sig: SignatureData): Record<string, unknown> {
  const loose = sig as unknown as Record<string, unknown>;
  if (loose['subtaskType'] === undefined && 'subtask_type' in loose) return { ...loose };
  const out: Record<string, unknown> = {
    task: sig.task,
    args: sig.args,
    kwargs: sig.kwargs,
    options: sig.options,
    subtask_type: sig.subtaskType,
    immutable: sig.immutable,
  };
  if (sig.extra !== undefined) {
    for (const key of Object.keys(sig.extra)) if (!KNOWN_KEYS.has(key)) out[key] = sig.extra[key];
  }
  return out;
}

/**
 * Reads a signature dict. Missing `args`/`kwargs`/`options` default to empty, a missing
 * `immutable` to false. Unknown keys (`chord_size`...) are kept in `extra`.
 * @throws MessageMalformedError naming the field that has the wrong shape.
 */
export function signatureFromWire(obj: unknown): SignatureData {
  if (!isDict(obj))
    throw new MessageMalformedError(`signature is not a dict (got ${describe(obj)})`);
  const task = obj['task'];
  if (typeof task !== 'string') {
    throw new MessageMalformedError(`signature has no 'task' name (got ${describe(task)})`);
  }
  const args = obj['args'] ?? [];
  if (!Array.isArray(args))
    throw new MessageMalformedError(`signature '${task}': 'args' is not a list`);
  const kwargs = obj['kwargs'] ?? {};
  if (!isDict(kwargs))
    throw new MessageMalformedError(`signature '${task}': 'kwargs' is not a dict`);
  const options = obj['options'] ?? {};
  if (!isDict(options))
    throw new MessageMalformedError(`signature '${task}': 'options' is not a dict`);
  const subtaskType = obj['subtask_type'] ?? null;
  if (
    subtaskType !== null &&
    (typeof subtaskType !== 'string' || !SUBTASK_TYPES.has(subtaskType))
  ) {
    throw new MessageMalformedError(
      `signature '${task}': unknown subtask_type ${describe(subtaskType)}`,
      { hint: `expected null or one of ${[...SUBTASK_TYPES].join(', ')}` },
    );
  }
  const immutable = obj['immutable'] ?? false;
  if (typeof immutable !== 'boolean' && typeof immutable !== 'number') {
    throw new MessageMalformedError(`signature '${task}': 'immutable' is not a bool`);
  }
  const sig: SignatureData = {
    task,
    args,
    kwargs,
    options,
    subtaskType: subtaskType as SignatureData['subtaskType'],
    immutable: Boolean(immutable),
  };
  let extra: Record<string, unknown> | undefined;
  for (const key of Object.keys(obj)) {
    if (KNOWN_KEYS.has(key)) continue;
    (extra ??= {})[key] = obj[key];
  }
  if (extra !== undefined) sig.extra = extra;
  return sig;
}

function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** A short description of a wrong value for error messages. */
export function describe(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
    case 'object':
      if (v === null) return 'null';
      if (Array.isArray(v)) return 'a list';
      return Buffer.isBuffer(v) ? 'bytes' : 'a dict';
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof v} ${String(v)}`;
    case 'undefined':
    case 'function':
    case 'symbol':
      return typeof v;
  }
}
