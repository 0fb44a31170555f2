/**
 * A celeriac client → Python Celery 5.2.6 workers, on Redis: what we send (args, kwargs,
 * countdown, eta, expires, priority, ignore_result, a retrying task, failing ones) is run by
 * `celery worker` (test/interop/py/pyapp.py) as a Python client's message would be, and our
 * AsyncResult reads the outcome, Python exceptions rebuilt as RemoteTaskError.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Celery, RemoteTaskError, type AsyncResult } from '../../src/index.js';
import { startPyWorker, type PyWorker, interopSkip } from '../support/python.js';
import { startRedis, type RedisServer } from '../support/servers.js';

// Outside CI a machine without Debian's Celery or redis-server skips this file; CI has both.
const skip = interopSkip();

/** When Python stored the result (its date_done is naive UTC), epoch ms. */
async function doneAt(res: AsyncResult<unknown>): Promise<number> {
  return Date.parse(`${await dateDone(res)}Z`);
}

/** date_done as Python wrote it (ISO, microseconds: finer than a Date, and sortable as text). */
async function dateDone(res: AsyncResult<unknown>): Promise<string> {
  const meta = await res.meta();
  assert.ok(meta?.dateDone, `result ${res.id} has a date_done`);
  return meta.dateDone;
}

/** The Python worker logged this many runs of the task id ("succeeded in" lines). */
function pyRuns(worker: PyWorker, id: string): number {
  return worker.output().split(`[${id}] succeeded in `).length - 1;
}

/**
 * Runs of the task id once the Python worker logged at least one: its main process logs
 * "succeeded" when the pool reports back, which may be after the result was stored.
 */
async function loggedRuns(worker: PyWorker, id: string): Promise<number> {
  const deadline = Date.now() + 30_000;
  while (pyRuns(worker, id) === 0) {
    assert.ok(Date.now() < deadline, `${id} never ran:\n${worker.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return pyRuns(worker, id);
}

void describe('celeriac client → Python worker (Redis)', { skip }, () => {
  const queue = 'ts2py';
  let redis: RedisServer;
  let worker: PyWorker;
  let app: Celery;

  before(async () => {
    redis = await startRedis({ db: 4, flush: true });
    worker = await startPyWorker({ brokerUrl: redis.url, queues: [queue], concurrency: 2 });
    app = new Celery('client', { broker: redis.url, backend: redis.url });
  });
  after(async () => {
    await app?.close();
    await worker?.stop();
    await redis?.stop();
  });

  void test('positional args, keyword args (bound by Python by name) and **kwargs', async () => {
    const add = await app.sendTask('tasks.add', [2, 3], {}, { queue });
    const kwargs = await app.sendTask('tasks.add', [], { x: 1, y: 2 }, { queue });
    const mixed = await app.sendTask('tasks.mul', [6], { y: 7 }, { queue });
    const list = await app.sendTask('tasks.xsum', [[1, 2, 3, 4.5]], {}, { queue });
    const echo = await app.sendTask('tasks.echo', [1, 'two', null], { k: 'v', n: 3 }, { queue });
    assert.equal(await add.get({ timeout: 30 }), 5, worker.output());
    assert.equal(await kwargs.get({ timeout: 30 }), 3);
    assert.equal(await mixed.get({ timeout: 30 }), 42);
    assert.equal(await list.get({ timeout: 30 }), 10.5);
    assert.deepEqual(await echo.get({ timeout: 30 }), {
      args: [1, 'two', null],
      kwargs: { k: 'v', n: 3 },
    });
  });

  void test('countdown and eta: Python runs the task once, not before it is due', async () => {
    const sentAt = Date.now();
    const countdown = await app.sendTask('tasks.add', [1, 1], {}, { queue, countdown: 2 });
    const eta = await app.sendTask(
      'tasks.add',
      [2, 2],
      {},
      { queue, eta: new Date(sentAt + 2500) },
    );
    assert.equal(await countdown.get({ timeout: 30 }), 2);
    assert.equal(await eta.get({ timeout: 30 }), 4);
    // date_done is written after the run, so it is a lower bound of when the task ran.
    assert.ok((await doneAt(countdown)) >= sentAt + 2000 - 1, 'the countdown was honoured');
    assert.ok((await doneAt(eta)) >= sentAt + 2500 - 1, 'the eta was honoured');
    assert.equal(await loggedRuns(worker, countdown.id), 1);
    assert.equal(await loggedRuns(worker, eta.id), 1);
  });

  void test('a task already expired when Python receives it is REVOKED and never runs', async () => {
    const expired = await app.sendTask(
      'tasks.add',
      [5, 5],
      {},
      { queue, expires: new Date(Date.now() - 60_000) },
    );
    await assert.rejects(expired.get({ timeout: 30 }), (e: unknown) => {
      assert.ok(e instanceof RemoteTaskError, String(e));
      assert.equal(e.excType, 'TaskRevokedError');
      assert.equal(e.excModule, 'celery.exceptions');
      assert.deepEqual(e.excArgs, ['expired']);
      return true;
    });
    assert.equal(await expired.state(), 'REVOKED');
    assert.equal(pyRuns(worker, expired.id), 0);
    const later = await app.sendTask('tasks.add', [5, 5], {}, { queue, expires: 120 });
    assert.equal(await later.get({ timeout: 30 }), 10, 'a task that expires later runs');
  });

  void test('ignore_result (our call option; the Python task attribute): runs, stores nothing', async () => {
    const byOption = await app.sendTask('tasks.add', [3, 4], {}, { queue, ignoreResult: true });
    const byTask = await app.sendTask('tasks.noresult', [7], {}, { queue });
    for (const res of [byOption, byTask]) {
      assert.equal(await loggedRuns(worker, res.id), 1);
      // Python logs "succeeded" after the child would have stored the result.
      assert.equal(await res.meta(), null, `nothing stored for ${res.id}`);
      assert.equal(await res.state(), 'PENDING');
    }
  });

  void test('a retrying Python task: our get() waits through RETRY for the final value', async () => {
    const res = await app.sendTask('tasks.retry_once', [42], {}, { queue });
    assert.equal(await res.get({ timeout: 30 }), 42);
    assert.equal(await loggedRuns(worker, res.id), 1, 'one successful run');
    assert.match(
      worker.output(),
      new RegExp(
        `tasks\\.retry_once\\[${res.id}\\] retry: Retry in 1s: RuntimeError\\('transient failure'\\)`,
      ),
    );
  });

  void test('Python exceptions come back as RemoteTaskError with type, module, args and traceback', async () => {
    const fail = await app.sendTask('tasks.fail', ['boom'], {}, { queue });
    await assert.rejects(fail.get({ timeout: 30 }), (e: unknown) => {
      assert.ok(e instanceof RemoteTaskError, String(e));
      assert.equal(e.name, 'ValueError');
      assert.equal(e.excType, 'ValueError');
      assert.equal(e.excModule, 'builtins');
      assert.equal(e.message, 'boom');
      assert.deepEqual(e.excArgs, ['boom']);
      assert.equal(e.taskId, fail.id);
      assert.match(e.remoteTraceback ?? '', /raise ValueError\(msg\)/);
      assert.match(e.remoteTraceback ?? '', /^Traceback \(most recent call last\):/);
      return true;
    });
    assert.equal(await fail.state(), 'FAILURE');
    const custom = await app.sendTask('tasks.fail_custom', ['a', 2], {}, { queue });
    await assert.rejects(custom.get({ timeout: 30 }), (e: unknown) => {
      assert.ok(e instanceof RemoteTaskError, String(e));
      assert.equal(e.excType, 'SpecError');
      assert.equal(e.excModule, 'pyapp');
      assert.deepEqual(e.excArgs, ['a', 2]);
      return true;
    });
    const result = await fail.result();
    assert.ok(result instanceof RemoteTaskError, 'result() gives the rebuilt error too');
  });

  void test('priorities: with the queue filled first, a Python worker runs lower numbers first', async () => {
    const prio = 'ts2py-prio';
    const sent: Array<{ res: AsyncResult<unknown>; priority: number }> = [];
    for (const [i, priority] of [9, 6, 3, 0, 9, 0, 5, 1].entries()) {
      sent.push({
        res: await app.sendTask('tasks.add', [i, 0], {}, { queue: prio, priority }),
        priority,
      });
    }
    const single = await startPyWorker({ brokerUrl: redis.url, queues: [prio], concurrency: 1 });
    try {
      for (const { res } of sent) await res.get({ timeout: 30 });
    } finally {
      await single.stop();
    }
    // Several tasks finish within one millisecond: order by Python's microseconds.
    const done: Array<{ at: string; priority: number }> = [];
    for (const { res, priority } of sent) done.push({ at: await dateDone(res), priority });
    const order = done
      .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
      .map((d) => d.priority);
    assert.deepEqual(order, [0, 0, 1, 3, 5, 6, 9, 9]);
  });
});
