/**
 * Task events of a worker (spec §g.3): turns the executor's notifications into `task-*`
 * events with Celery's fields. Whether they are sent is decided per event by the dispatcher's
 * `task` group, so the enable_events / disable_events control commands take effect at once.
 */
import type { EventDispatcher } from '../events/dispatcher.js';
import { exceptionInfoFromError, exceptionRepr } from '../protocol/exception.js';
import { safeRepr as celerySafeRepr } from '../protocol/repr.js';
import { toPythonIso } from '../protocol/time.js';
import type { TaskEventSink } from './task-events.js';

/** A TaskEventSink sending events through `dispatcher`, and passing them on to `next`. */
export function dispatcherSink(dispatcher: EventDispatcher, next?: TaskEventSink): TaskEventSink {
  const on = (): boolean => dispatcher.sends('task');
  return {
    received(m) {
      next?.received(m);
      if (!on()) return;
      dispatcher.sendTask('task-received', {
        uuid: m.id,
        name: m.task,
        args: m.argsrepr,
        kwargs: m.kwargsrepr,
        rootId: m.rootId,
        parentId: m.parentId,
        retries: m.retries,
        eta: m.eta === null ? null : toPythonIso(m.eta),
        expires: m.expires === null ? null : toPythonIso(m.expires),
      });
    },
    started(m) {
      next?.started(m);
      if (on()) dispatcher.sendTask('task-started', { uuid: m.id });
    },
    succeeded(m, value, runtime) {
      next?.succeeded(m, value, runtime);
      if (on())
        dispatcher.sendTask('task-succeeded', { uuid: m.id, result: safeRepr(value), runtime });
    },
    failed(m, error, traceback) {
      next?.failed(m, error, traceback);
      if (!on()) return;
      const exception = exceptionRepr(exceptionInfoFromError(error));
      // An unknown task's event carries no traceback, as Python's.
      dispatcher.sendTask(
        'task-failed',
        traceback === null ? { uuid: m.id, exception } : { uuid: m.id, exception, traceback },
      );
    },
    retried(m, error, traceback) {
      next?.retried(m, error, traceback);
      if (on())
        dispatcher.sendTask('task-retried', {
          uuid: m.id,
          exception: exceptionRepr(exceptionInfoFromError(error)),
          traceback,
        });
    },
    revoked(m, reason) {
      next?.revoked(m, reason);
      if (on())
        dispatcher.sendTask('task-revoked', {
          uuid: m.id,
          terminated: reason.terminated,
          signum: reason.signum,
          expired: reason.expired,
        });
    },
    rejected(m, requeue) {
      next?.rejected(m, requeue);
      if (on()) dispatcher.sendTask('task-rejected', { uuid: m.id, requeue });
    },
  };
}

/** Celery's `saferepr(result, 1024)`, never throwing. */
function safeRepr(value: unknown): string {
  try {
    return celerySafeRepr(value, 1024);
  } catch {
    return '<unrepresentable>';
  }
}
