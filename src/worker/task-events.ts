/**
 * The points where a worker reports what happens to tasks. The events issue plugs a real
 * dispatcher (task-received, task-started, ...) in here; by default nothing is sent.
 */
import type { TaskMessage } from '../protocol/types.js';

/** Receives task lifecycle notifications from the executor. Implementations never throw. */
export interface TaskEventSink {
  received(message: TaskMessage): void;
  started(message: TaskMessage): void;
  succeeded(message: TaskMessage, value: unknown, runtime: number): void;
  failed(message: TaskMessage, error: Error, traceback: string | null): void;
  retried(message: TaskMessage, error: Error, traceback: string): void;
  revoked(
    message: TaskMessage,
    reason: { terminated: boolean; expired: boolean; signum: number | null },
  ): void;
  rejected(message: TaskMessage, requeue: boolean): void;
}

/** Sends nothing. */
export const NO_TASK_EVENTS: TaskEventSink = Object.freeze({
  received: () => {},
  started: () => {},
  succeeded: () => {},
  failed: () => {},
  retried: () => {},
  revoked: () => {},
  rejected: () => {},
});
