/**
 * Every error celeriac throws is a {@link CeleriacError} with a stable `code`.
 * Codes are listed in docs/errors.md. Errors that cross the wire map to Python's
 * `exc_type` / `exc_module` through `protocol/exception.ts`.
 */

/** Stable error codes. Add a code here, then describe it in docs/errors.md. */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_UNKNOWN_KEY'
  | 'URL_INVALID'
  | 'TRANSPORT_UNSUPPORTED'
  | 'BROKER_UNREACHABLE'
  | 'BACKEND_UNREACHABLE'
  | 'STORE_UNWRITABLE'
  | 'NOT_REGISTERED'
  | 'DUPLICATE_TASK'
  | 'ENCODE_ERROR'
  | 'DECODE_ERROR'
  | 'CONTENT_DISALLOWED'
  | 'MESSAGE_MALFORMED'
  | 'ARGUMENTS_INVALID'
  | 'TIMEOUT'
  | 'TASK_FAILED'
  | 'TASK_REVOKED'
  | 'NO_BACKEND'
  | 'MAX_RETRIES_EXCEEDED'
  | 'SOFT_TIME_LIMIT'
  | 'TIME_LIMIT'
  | 'WORKER_LOST'
  | 'APP_LOAD_FAILED'
  | 'CLOSED'
  | 'CHORD_ERROR';

/** Options accepted by every celeriac error. */
export interface CeleriacErrorOptions {
  cause?: unknown;
  /** A hint telling the user how to fix the problem. Printed after the message. */
  hint?: string;
}

/** Root of celeriac's error classes. */
export class CeleriacError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: CeleriacErrorOptions = {}) {
    super(
      options.hint ? `${message} (${options.hint})` : message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.hint = options.hint;
    this.name = new.target.name;
  }
}

/** A setting is unknown, has the wrong type, or cannot be parsed. */
export class ConfigError extends CeleriacError {
  readonly setting: string | undefined;
  constructor(
    message: string,
    options: CeleriacErrorOptions & { setting?: string; code?: ErrorCode } = {},
  ) {
    super(options.code ?? 'CONFIG_INVALID', message, options);
    this.setting = options.setting;
  }
}

/** A broker, backend or file store cannot be reached or written. */
export class ConnectionError extends CeleriacError {}

/** Encoding a value failed (unserializable arguments, results or options). */
export class EncodeError extends CeleriacError {
  constructor(message: string, options: CeleriacErrorOptions = {}) {
    super('ENCODE_ERROR', message, options);
  }
}

/** Decoding bytes from the wire failed. */
export class DecodeError extends CeleriacError {
  constructor(message: string, options: CeleriacErrorOptions = {}) {
    super('DECODE_ERROR', message, options);
  }
}

/** A message's content type is not in `acceptContent`. */
export class ContentDisallowedError extends CeleriacError {
  readonly contentType: string;
  constructor(contentType: string, options: CeleriacErrorOptions = {}) {
    super(
      'CONTENT_DISALLOWED',
      `Refusing to deserialize untrusted content of type ${contentType}`,
      {
        hint: 'add the serializer to acceptContent if you trust the producers, or make them send JSON',
        ...options,
      },
    );
    this.contentType = contentType;
  }
}

/** A message does not have the shape of a Celery task message. */
export class MessageMalformedError extends CeleriacError {
  constructor(message: string, options: CeleriacErrorOptions = {}) {
    super('MESSAGE_MALFORMED', message, options);
  }
}

/** The task name is not registered with the app (Celery's NotRegistered). */
export class NotRegistered extends CeleriacError {
  readonly taskName: string;
  constructor(taskName: string) {
    super('NOT_REGISTERED', `Task of kind '${taskName}' is not registered`, {
      hint: 'define it with app.task() in the module passed to -A, or check the task name',
    });
    this.taskName = taskName;
  }
}

/** Arguments do not fit the task's signature or schema. */
export class ArgumentsError extends CeleriacError {
  constructor(message: string, options: CeleriacErrorOptions = {}) {
    super('ARGUMENTS_INVALID', message, options);
  }
}

/** Waiting for something took longer than allowed. */
export class TimeoutError extends CeleriacError {
  constructor(message: string, options: CeleriacErrorOptions = {}) {
    super('TIMEOUT', message, options);
  }
}

/** Something was used after `close()`. */
export class ClosedError extends CeleriacError {
  constructor(what: string) {
    super('CLOSED', `${what} is closed`);
  }
}

/** The task was revoked (Celery's TaskRevokedError). */
export class TaskRevokedError extends CeleriacError {
  constructor(reason: string) {
    super('TASK_REVOKED', reason);
  }
}

/** `retry()` was called more times than `maxRetries` allows. */
export class MaxRetriesExceededError extends CeleriacError {
  constructor(message: string) {
    super('MAX_RETRIES_EXCEEDED', message);
  }
}

/** The soft time limit was reached; thrown inside the task. */
export class SoftTimeLimitExceeded extends CeleriacError {
  constructor(seconds: number) {
    super('SOFT_TIME_LIMIT', `SoftTimeLimitExceeded(${seconds})`);
  }
}

/** The hard time limit was reached; the task was killed. */
export class TimeLimitExceeded extends CeleriacError {
  constructor(seconds: number) {
    super('TIME_LIMIT', `TimeLimitExceeded(${seconds})`);
  }
}

/** The process or thread running the task died. */
export class WorkerLostError extends CeleriacError {
  constructor(message: string) {
    super('WORKER_LOST', message);
  }
}

/** A chord's header task failed, so its body cannot run. */
export class ChordError extends CeleriacError {
  constructor(message: string) {
    super('CHORD_ERROR', message);
  }
}

/**
 * A task's failure rebuilt from its stored result: `excType` and `excModule` are what the
 * worker (Python or TypeScript) wrote; `name` is set to `excType` so logs read naturally.
 */
export class RemoteTaskError extends CeleriacError {
  readonly excType: string;
  readonly excModule: string;
  readonly excArgs: readonly unknown[];
  readonly remoteTraceback: string | null;
  readonly taskId: string;

  constructor(info: {
    excType: string;
    excModule: string;
    excArgs: readonly unknown[];
    traceback: string | null;
    taskId: string;
  }) {
    const text =
      info.excArgs.length === 1 ? String(info.excArgs[0]) : info.excArgs.map(String).join(', ');
    super('TASK_FAILED', text);
    this.name = info.excType;
    this.excType = info.excType;
    this.excModule = info.excModule;
    this.excArgs = info.excArgs;
    this.remoteTraceback = info.traceback;
    this.taskId = info.taskId;
  }
}

/** How a retry was asked for; the worker turns it into a new message. */
export interface RetryRequest {
  /** Seconds from now. */
  countdown?: number | undefined;
  /** Absolute time (epoch ms). Wins over countdown. */
  eta?: number | undefined;
  /** The error that caused the retry (stored with the RETRY state). */
  exc?: unknown;
  /** Overrides the task's maxRetries for this retry. */
  maxRetries?: number | null | undefined;
  /** Replace the arguments of the retried call. */
  args?: unknown[] | undefined;
  kwargs?: Record<string, unknown> | undefined;
}

/** Control signal thrown by `ctx.retry()`: not a failure. The worker sends the retry message. */
export class Retry extends Error {
  override readonly name = 'Retry';
  constructor(readonly request: RetryRequest) {
    super(request.exc instanceof Error ? `Retry: ${request.exc.message}` : 'Retry requested');
  }
}

/** Thrown by a task to reject its message (optionally requeue it). Nothing is stored. */
export class Reject extends Error {
  override readonly name = 'Reject';
  constructor(
    readonly reason: string = 'rejected',
    readonly requeue = false,
  ) {
    super(reason);
  }
}

/** Thrown by a task to end without storing any state. */
export class Ignore extends Error {
  override readonly name = 'Ignore';
  constructor(reason = 'ignored') {
    super(reason);
  }
}

/** Turns anything thrown into an Error. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : safeString(value));
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Two tasks were registered with the same name. */
export class DuplicateTaskError extends CeleriacError {
  constructor(name: string) {
    super('DUPLICATE_TASK', `A task named '${name}' is already registered`, {
      hint: "give one of them another name with the 'name' option",
    });
  }
}
