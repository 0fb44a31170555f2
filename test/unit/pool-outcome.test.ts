/** Outcome ⇄ PoolOutcome: errors become Celery's exception info and come back as RemoteTaskError. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Outcome } from '../../src/app/trace.js';
import { RemoteTaskError, Retry, TimeLimitExceeded, WorkerLostError } from '../../src/errors.js';
import {
  describeExit,
  fromPoolOutcome,
  fromWireError,
  terminatedOutcome,
  timeLimitOutcome,
  toPoolOutcome,
  toWireError,
  workerLostOutcome,
} from '../../src/worker/pool/outcome.js';

void describe('pool outcomes', () => {
  void test('success, reject and ignore pass through unchanged', () => {
    const cases: Outcome[] = [
      { kind: 'success', value: { a: [1] }, runtime: 0.5 },
      { kind: 'reject', requeue: true, reason: 'r', runtime: 0.1 },
      { kind: 'ignore', runtime: 0.2 },
    ];
    for (const outcome of cases) {
      assert.deepEqual(toPoolOutcome(outcome), outcome);
      assert.deepEqual(fromPoolOutcome(toPoolOutcome(outcome), 'id'), outcome);
    }
  });

  void test('a failure becomes exception info (exactly three fields) and its traceback', () => {
    const error = new TypeError('bad');
    const pool = toPoolOutcome({ kind: 'failure', error, traceback: 'TB', runtime: 1 });
    assert.deepEqual(pool, {
      kind: 'failure',
      error: { excType: 'TypeError', excModule: 'builtins', excMessage: ['bad'] },
      traceback: 'TB',
      runtime: 1,
    });
    const back = fromPoolOutcome(pool, 'task-1');
    assert.ok(back.kind === 'failure' && back.error instanceof RemoteTaskError);
    assert.equal(back.error.name, 'TypeError');
    assert.equal(back.error.taskId, 'task-1');
    assert.equal(back.error.remoteTraceback, 'TB');
    // Rebuilt errors map back to the same info, so the executor stores what the task raised.
    assert.deepEqual(toPoolOutcome(back), pool);
  });

  void test('a retry drops the exc from the request and keeps the rest', () => {
    const error = new Error('later');
    const outcome: Outcome = {
      kind: 'retry',
      retry: { exc: error, countdown: 3, args: [1], kwargs: undefined, eta: undefined },
      countdown: 3,
      error,
      traceback: 'TB',
      runtime: 0,
    };
    const pool = toPoolOutcome(outcome);
    assert.deepEqual(pool, {
      kind: 'retry',
      retry: { countdown: 3, args: [1] },
      countdown: 3,
      error: { excType: 'Exception', excModule: 'builtins', excMessage: ['later'] },
      traceback: 'TB',
      runtime: 0,
    });
    const back = fromPoolOutcome(pool, 'id');
    assert.ok(back.kind === 'retry' && back.retry.exc === back.error && back.retry.countdown === 3);
    assert.ok(!(back.error instanceof Retry));
  });

  void test("the pool's own failures carry Celery's names and a cause", () => {
    assert.deepEqual(
      { ...timeLimitOutcome(2, 2.01), traceback: '' },
      {
        kind: 'failure',
        error: { excType: 'TimeLimitExceeded', excModule: 'billiard.exceptions', excMessage: [2] },
        traceback: '',
        runtime: 2.01,
        cause: 'time-limit',
      },
    );
    const lost = workerLostOutcome(describeExit(null, 'SIGKILL'), 0.3);
    assert.ok(lost.kind === 'failure' && lost.cause === 'worker-lost');
    assert.deepEqual(lost.error, {
      excType: 'WorkerLostError',
      excModule: 'billiard.exceptions',
      excMessage: ['Worker exited prematurely: signal 9 (SIGKILL).'],
    });
    const terminated = terminatedOutcome(0);
    assert.ok(terminated.kind === 'failure' && terminated.cause === 'terminated');
    assert.deepEqual(terminated.error, {
      excType: 'TaskRevokedError',
      excModule: 'celery.exceptions',
      excMessage: ['terminated'],
    });
    assert.equal(describeExit(3, null), 'exitcode 3');
    assert.ok(
      new TimeLimitExceeded(1) instanceof Error && new WorkerLostError('x') instanceof Error,
    );
  });

  void test('wire errors keep name, message and stack', () => {
    const error = new RangeError('out');
    const back = fromWireError(toWireError(error));
    assert.equal(back.name, 'RangeError');
    assert.equal(back.message, 'out');
    assert.equal(back.stack, error.stack);
  });
});
