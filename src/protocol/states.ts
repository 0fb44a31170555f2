/**
 * Celery's task state sets (spec §e), as in `celery.states`.
 */
import type { State } from './types.js';

/** States after which a task will not change again: SUCCESS, FAILURE, REVOKED. */
export const READY_STATES: ReadonlySet<string> = new Set(['SUCCESS', 'FAILURE', 'REVOKED']);

/** States whose stored `result` is exception info: RETRY, FAILURE, REVOKED. */
export const EXCEPTION_STATES: ReadonlySet<string> = new Set(['RETRY', 'FAILURE', 'REVOKED']);

/** States that make `AsyncResult.get()` throw: FAILURE, REVOKED. */
export const PROPAGATE_STATES: ReadonlySet<string> = new Set(['FAILURE', 'REVOKED']);

/** True for SUCCESS, FAILURE and REVOKED. */
export function isReadyState(state: State): boolean {
  return READY_STATES.has(state);
}
