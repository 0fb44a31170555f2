/**
 * Outcome ⇄ PoolOutcome: the tracer's outcomes hold Error objects; a pool's outcomes are plain
 * data (exception info as Celery stores it, plus the traceback text) so they cross process and
 * thread boundaries intact. `fromPoolOutcome` rebuilds errors for code that wants Errors.
 */
import { constants } from 'node:os';
import type { Outcome } from '../../app/trace.js';
import { tracebackOf } from '../../app/trace.js';
import {
  TaskRevokedError,
  TimeLimitExceeded,
  WorkerLostError,
  type RetryRequest,
} from '../../errors.js';
import { errorFromExceptionInfo, exceptionInfoFromError } from '../../protocol/exception.js';
import type { ExceptionInfo } from '../../protocol/types.js';
import type { WireError } from './messages.js';
import type { PoolOutcome } from './types.js';

/** Why a pool ended a job itself (the task did not get to finish). */
export type PoolCause = 'time-limit' | 'worker-lost' | 'terminated';

/** Turns the tracer's outcome into plain data. */
export function toPoolOutcome(outcome: Outcome): PoolOutcome {
  switch (outcome.kind) {
    case 'success':
    case 'reject':
    case 'ignore':
      return outcome;
    case 'failure':
      return {
        kind: 'failure',
        error: infoOf(outcome.error),
        traceback: outcome.traceback,
        runtime: outcome.runtime,
      };
    case 'retry':
      return {
        kind: 'retry',
        retry: retryWithoutExc(outcome.retry),
        countdown: outcome.countdown,
        error: infoOf(outcome.error),
        traceback: outcome.traceback,
        runtime: outcome.runtime,
      };
  }
}

/**
 * Rebuilds a tracer-style outcome (errors as Error objects, made by
 * `errorFromExceptionInfo`) from a pool's outcome, e.g. to reuse code written for `trace()`.
 */
export function fromPoolOutcome(outcome: PoolOutcome, taskId: string): Outcome {
  switch (outcome.kind) {
    case 'success':
    case 'reject':
    case 'ignore':
      return outcome;
    case 'failure':
      return {
        kind: 'failure',
        error: errorFromExceptionInfo(outcome.error, { taskId, traceback: outcome.traceback }),
        traceback: outcome.traceback,
        runtime: outcome.runtime,
      };
    case 'retry': {
      const error = errorFromExceptionInfo(outcome.error, { taskId, traceback: outcome.traceback });
      return {
        kind: 'retry',
        retry: { ...outcome.retry, exc: error },
        countdown: outcome.countdown,
        error,
        traceback: outcome.traceback,
        runtime: outcome.runtime,
      };
    }
  }
}

/** A failure as plain data; `cause` when the pool ended the job itself (time limit, lost worker, terminate). */
export function failureOf(error: Error, runtime: number, cause?: PoolCause): PoolOutcome {
  const outcome: PoolOutcome = {
    kind: 'failure',
    error: infoOf(error),
    traceback: tracebackOf(error),
    runtime,
  };
  if (cause) outcome.cause = cause;
  return outcome;
}

/** The failure for a job killed at its hard time limit (Celery's TimeLimitExceeded). */
export function timeLimitOutcome(seconds: number, runtime: number): PoolOutcome {
  return failureOf(new TimeLimitExceeded(seconds), runtime, 'time-limit');
}

/** The failure for a job whose process or thread died under it (Celery's WorkerLostError). */
export function workerLostOutcome(detail: string, runtime: number): PoolOutcome {
  return failureOf(
    new WorkerLostError(`Worker exited prematurely: ${detail}.`),
    runtime,
    'worker-lost',
  );
}

/** The failure for a job stopped by `terminate()` (the executor stores REVOKED 'terminated'). */
export function terminatedOutcome(runtime: number): PoolOutcome {
  return failureOf(new TaskRevokedError('terminated'), runtime, 'terminated');
}

/** An error as plain data (for logs on the other side of a boundary). */
export function toWireError(error: Error): WireError {
  return {
    name: error.name,
    message: error.message,
    stack: tracebackOf(error),
    info: infoOf(error),
  };
}

/** Rebuilds an Error from {@link toWireError}'s data, keeping its name, message and stack. */
export function fromWireError(wire: WireError): Error {
  const error = new Error(wire.message);
  error.name = wire.name;
  error.stack = wire.stack;
  return error;
}

/** Describes how a child ended, for WorkerLostError (`signal 9 (SIGKILL)`, `exitcode 1`). */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `signal ${constants.signals[signal]} (${signal})`;
  return `exitcode ${code ?? 'unknown'}`;
}

/** Exception info with exactly its three fields (nothing else rides along in messages). */
export function infoOf(error: Error): ExceptionInfo {
  const { excType, excModule, excMessage } = exceptionInfoFromError(error);
  return { excType, excModule, excMessage };
}

function retryWithoutExc(retry: RetryRequest): Omit<RetryRequest, 'exc'> {
  const { exc: _exc, ...rest } = retry;
  const out: Omit<RetryRequest, 'exc'> = {};
  for (const [key, value] of Object.entries(rest)) {
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}
