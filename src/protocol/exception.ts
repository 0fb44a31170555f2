/**
 * Errors across the wire (spec §d.1): Celery stores `{exc_type, exc_message, exc_module}`,
 * where `exc_message` is the exception's args list, and Python rebuilds the class by looking
 * `exc_module` up among imported modules (synthesizing a class when it is missing).
 *
 * The one table that maps JS and celeriac errors to Python names. Rules:
 * - A Python builtin where one fits, so `except ValueError:` works on the Python side.
 * - Celery's own class and module where Celery has one (module checked against Celery 5.2.6:
 *   the time-limit and worker-lost classes live in `billiard.exceptions`).
 * - Anything else keeps its JS name under module `celeriac.tasks`, which does not exist in
 *   Python, so Python synthesizes an exception class of that name. Never `builtins` with a
 *   name that is not an exception class: Python raises SecurityError for those.
 * - An error carrying string `excType` and `excModule` properties (RemoteTaskError does, and
 *   users may) keeps them: failures re-raised from a Python task keep their Python names.
 */
import {
  CeleriacError,
  ChordError,
  ContentDisallowedError,
  DecodeError,
  EncodeError,
  MaxRetriesExceededError,
  NotRegistered,
  RemoteTaskError,
  SoftTimeLimitExceeded,
  TaskRevokedError,
  TimeLimitExceeded,
  TimeoutError,
  WorkerLostError,
} from '../errors.js';
import { fastDumps } from '../serialization/json.js';
import { pyRepr, safeRepr } from './repr.js';
import type { ExceptionInfo } from './types.js';

/** Module of errors that have no Python counterpart (it does not exist in Python). */
export const JS_EXCEPTION_MODULE = 'celeriac.tasks';

/**
 * JS built-in error names → Python builtins. RangeError and URIError become ValueError
 * (bad value); SyntaxError too, because at run time it comes from JSON.parse and the like,
 * which Python reports as ValueError (Python's SyntaxError is about source code).
 */
const BUILTIN_BY_JS_NAME: Readonly<Record<string, string>> = {
  Error: 'Exception',
  TypeError: 'TypeError',
  RangeError: 'ValueError',
  SyntaxError: 'ValueError',
  URIError: 'ValueError',
  ReferenceError: 'NameError',
  EvalError: 'RuntimeError',
  AggregateError: 'Exception',
  AssertionError: 'AssertionError',
  TimeoutError: 'TimeoutError',
  NotImplementedError: 'NotImplementedError',
};

/** Node system error codes → Python's OSError subclasses (what Python raises for the same). */
const BUILTIN_BY_ERRNO: Readonly<Record<string, string>> = {
  ENOENT: 'FileNotFoundError',
  EEXIST: 'FileExistsError',
  EACCES: 'PermissionError',
  EPERM: 'PermissionError',
  EISDIR: 'IsADirectoryError',
  ENOTDIR: 'NotADirectoryError',
  ECONNREFUSED: 'ConnectionRefusedError',
  ECONNRESET: 'ConnectionResetError',
  ECONNABORTED: 'ConnectionAbortedError',
  EPIPE: 'BrokenPipeError',
  ETIMEDOUT: 'TimeoutError',
};

/**
 * Python-compatible exception info for anything thrown by a task (see the module comment
 * for the mapping). `excMessage` is `[message]` (or `[]` for an empty message), unless the
 * error carries an `args` array, which is used instead. Args Python could not decode from
 * JSON are replaced by their repr, as Celery does.
 */
export function exceptionInfoFromError(err: unknown): ExceptionInfo {
  if (!(err instanceof Error)) {
    return { excType: 'Exception', excModule: 'builtins', excMessage: safeArgs([err]) };
  }
  const own = err as Error & {
    excType?: unknown;
    excModule?: unknown;
    args?: unknown;
    excArgs?: unknown;
  };
  if (err instanceof RemoteTaskError) {
    return { excType: err.excType, excModule: err.excModule, excMessage: safeArgs(err.excArgs) };
  }
  const args = Array.isArray(own.args) ? safeArgs(own.args) : messageArgs(err);
  if (typeof own.excType === 'string' && typeof own.excModule === 'string') {
    return { excType: own.excType, excModule: own.excModule, excMessage: args };
  }
  const celery = celeryName(err);
  if (celery !== undefined) {
    const excMessage = Array.isArray(own.args) ? args : celery.args;
    return { excType: celery.excType, excModule: celery.excModule, excMessage };
  }
  const builtin = builtinName(err);
  if (builtin !== undefined) return { excType: builtin, excModule: 'builtins', excMessage: args };
  return { excType: jsName(err), excModule: JS_EXCEPTION_MODULE, excMessage: args };
}

function celeryName(
  err: Error,
): { excType: string; excModule: string; args: unknown[] } | undefined {
  const message = plainMessage(err);
  const celery = (excType: string, args: unknown[] = message === '' ? [] : [message]) => ({
    excType,
    excModule: 'celery.exceptions',
    args,
  });
  const billiard = (excType: string, args: unknown[]) => ({
    excType,
    excModule: 'billiard.exceptions',
    args,
  });
  if (err instanceof NotRegistered) return celery('NotRegistered', [err.taskName]);
  if (err instanceof TaskRevokedError) return celery('TaskRevokedError');
  if (err instanceof MaxRetriesExceededError) return celery('MaxRetriesExceededError');
  if (err instanceof ChordError) return celery('ChordError');
  if (err instanceof TimeoutError) return celery('TimeoutError');
  if (err instanceof SoftTimeLimitExceeded)
    return billiard('SoftTimeLimitExceeded', secondsArgs(message));
  if (err instanceof TimeLimitExceeded) return billiard('TimeLimitExceeded', secondsArgs(message));
  if (err instanceof WorkerLostError) return billiard('WorkerLostError', [message]);
  if (err instanceof EncodeError)
    return { excType: 'EncodeError', excModule: 'kombu.exceptions', args: [message] };
  if (err instanceof DecodeError)
    return { excType: 'DecodeError', excModule: 'kombu.exceptions', args: [message] };
  if (err instanceof ContentDisallowedError) {
    return { excType: 'ContentDisallowed', excModule: 'kombu.exceptions', args: [message] };
  }
  // Control signals thrown by task code, should one ever be stored.
  if (err.name === 'Retry' || err.name === 'Reject' || err.name === 'Ignore')
    return celery(err.name);
  if (err instanceof CeleriacError)
    return { excType: err.name, excModule: 'celeriac.errors', args: [message] };
  return undefined;
}

function builtinName(err: Error): string | undefined {
  const code = (err as { code?: unknown }).code;
  if (err.name === 'Error' && typeof code === 'string') {
    const byErrno = BUILTIN_BY_ERRNO[code];
    if (byErrno !== undefined) return byErrno;
  }
  const name = jsName(err);
  return Object.prototype.hasOwnProperty.call(BUILTIN_BY_JS_NAME, name)
    ? BUILTIN_BY_JS_NAME[name]
    : undefined;
}

/** `err.name`, or the class name when a subclass did not set `name` (it is still 'Error'). */
function jsName(err: Error): string {
  if (err.name && err.name !== 'Error') return err.name;
  const proto = Object.getPrototypeOf(err) as { constructor?: unknown } | null;
  const ctor = proto?.constructor;
  return typeof ctor === 'function' && ctor.name ? ctor.name : 'Error';
}

/** The message without the `(hint)` celeriac errors append. */
function plainMessage(err: Error): string {
  const hint = err instanceof CeleriacError ? err.hint : undefined;
  return hint !== undefined && err.message.endsWith(` (${hint})`)
    ? err.message.slice(0, -(hint.length + 3))
    : err.message;
}

function messageArgs(err: Error): unknown[] {
  const message = plainMessage(err);
  return message === '' ? [] : [message];
}

/** `SoftTimeLimitExceeded(20)` → `[20]`, as billiard passes the limit as the only arg. */
function secondsArgs(message: string): unknown[] {
  const m = /\((\d+(?:\.\d+)?)\)\s*$/.exec(message);
  return m ? [Number(m[1])] : [message];
}

/** Args as Python can read them: anything JSON cannot carry becomes its repr string. */
function safeArgs(args: readonly unknown[]): unknown[] {
  return args.map((a) => {
    if (a === null || typeof a === 'string' || typeof a === 'boolean') return a;
    if (typeof a === 'number') return Number.isFinite(a) ? a : pyRepr(a);
    try {
      fastDumps(a);
      return a;
    } catch {
      return safeRepr(a);
    }
  });
}

/**
 * Rebuilds an error from stored exception info: a RemoteTaskError whose `name` is
 * `excType` and whose `excArgs` are the exception's args.
 */
export function errorFromExceptionInfo(
  info: ExceptionInfo,
  ctx: { taskId: string; traceback: string | null },
): Error {
  return new RemoteTaskError({
    excType: info.excType,
    excModule: info.excModule,
    excArgs: info.excMessage,
    traceback: ctx.traceback,
    taskId: ctx.taskId,
  });
}

/** Python's `repr()` of the exception: `ValueError('boom')`, `SpecError('a', 2)`. */
export function exceptionRepr(info: ExceptionInfo): string {
  return `${info.excType}(${info.excMessage.map(pyRepr).join(', ')})`;
}

/** The wire dict, keys in Celery's order. An empty `excModule` is written as null. */
export function exceptionInfoToWire(info: ExceptionInfo): Record<string, unknown> {
  return {
    exc_type: info.excType,
    exc_message: info.excMessage,
    exc_module: info.excModule === '' ? null : info.excModule,
  };
}

/**
 * Reads the wire dict. Returns null when `obj` is not one (no string `exc_type`).
 * A string `exc_message` (older data) becomes a one-element list; a missing or null
 * `exc_module` becomes `''`.
 */
export function exceptionInfoFromWire(obj: unknown): ExceptionInfo | null {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return null;
  const o = obj as Record<string, unknown>;
  const excType = o['exc_type'];
  if (typeof excType !== 'string') return null;
  const message = o['exc_message'];
  const excMessage = Array.isArray(message)
    ? message
    : message === undefined || message === null
      ? []
      : [message];
  const module = o['exc_module'];
  return { excType, excModule: typeof module === 'string' ? module : '', excMessage };
}
