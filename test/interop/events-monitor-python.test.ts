/**
 * `celeriac events` (the terminal monitor) on a real Redis, watching and steering a real Python
 * Celery 5.2.6 worker (prefork, one process, -E) next to a celeriac worker. The monitor runs in
 * a pseudo-terminal (script(1)) with the bare app (`-b <redis url>`, no -A); keys are typed
 * into it and its screen is read back: a Python task from RECEIVED/STARTED to SUCCESS, a
 * failure with its traceback, the selection moved with j/k, the arrows and the page keys, a
 * queued Python task revoked with r, the running one terminated with t, finished tasks cleared
 * with c.
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Celery } from '../../src/index.js';
import { ROOT, sandbox, startWorker, type WorkerProcess } from '../e2e/cli-helpers.js';
import {
  hasScript,
  KEY,
  literal,
  startMonitor,
  taskDetails,
  taskRow,
  type Monitor,
} from '../e2e/monitor-helpers.js';
import { pythonAvailable, startPyWorker, type PyWorker } from '../support/python.js';
import { redisAvailable, startRedis, type RedisServer } from '../support/servers.js';

const APP = resolve(ROOT, 'test/fixtures/apps/remote.ts');

// Outside CI a machine without Debian's Celery, redis-server or script(1) skips this file.
const skip = process.env.CI
  ? false
  : !redisAvailable()
    ? 'redis-server is not installed'
    : !pythonAvailable()
      ? '/usr/bin/python3 lacks celery'
      : !hasScript
        ? 'script(1) is not installed'
        : false;

void describe(
  'celeriac events (terminal monitor) with a Python Celery worker on Redis',
  { skip },
  () => {
    const PY = `py-${process.pid}@monitor`;
    const TS = `ts-${process.pid}@monitor`;
    const pyQueue = `mon-py-${process.pid}`;
    const tsQueue = `mon-ts-${process.pid}`;
    const box = sandbox();
    let redis: RedisServer;
    let pyWorker: PyWorker;
    let tsWorker: WorkerProcess;
    let client: Celery;
    let monitor: Monitor;

    before(async () => {
      redis = await startRedis({ db: 13, flush: true });
      const env = { ...box.env, CELERY_BROKER_URL: redis.url, CELERY_RESULT_BACKEND: redis.url };
      client = new Celery('client', { broker: redis.url, backend: redis.url });
      [pyWorker, tsWorker] = await Promise.all([
        startPyWorker({
          brokerUrl: redis.url,
          backendUrl: redis.url,
          hostname: PY,
          queues: [pyQueue],
          concurrency: 1,
          events: true,
        }),
        startWorker(env, ['-E', '-c', '1', '-n', TS, '-Q', tsQueue], APP),
      ]);
      // A wide terminal, so that both workers fit on the workers line.
      monitor = startMonitor(['-b', redis.url], env, { cols: 200, rows: 40 });
    });
    after(async () => {
      monitor?.kill();
      await pyWorker?.stop();
      await tsWorker?.stop('SIGKILL');
      await client?.close();
      await redis?.stop();
      box.cleanup();
    });

    test('both workers online; a Python failure shows its exception and traceback; c clears finished tasks', async () => {
      await monitor.until(
        new RegExp(`celeriac events +${literal(redis.url)} +workers online: 2 +tasks: 0`),
        'two workers online in the title',
      );
      const s = await monitor.until(
        new RegExp(`Workers: .*${literal(PY)} \\(online .*py-celery 5\\.2\\.6`),
        'the Python worker on the workers line',
      );
      assert.match(s, new RegExp(`${literal(TS)} \\(online .*celeriac`));
      const failed = await client.sendTask('tasks.fail', ['boom'], {}, { queue: pyQueue });
      await monitor.until(taskRow(failed.id, 'tasks.fail', PY, 'FAILURE'), 'the FAILURE row');
      // The first task seen is selected: its details show Python's exception and traceback.
      const details = await monitor.until(
        taskDetails('tasks.fail', failed.id, 'FAILURE', PY),
        'the failed task details',
      );
      assert.match(details, /^ args: \('boom',\) {2}kwargs: \{\}/m);
      assert.match(details, /^ exception: ValueError\('boom'\)/m);
      assert.match(details, /^ traceback:\n(?: {3}.*\n){0,3} {3}ValueError: boom$/m);
      await assert.rejects(failed.get({ timeout: 10 }), /boom/);
      const ok = await client.sendTask('remote.add', [20, 22], {}, { queue: tsQueue });
      assert.equal(await ok.get({ timeout: 20 }), 42);
      await monitor.until(taskRow(ok.id, 'remote.add', TS, 'SUCCESS'), 'the celeriac task SUCCESS');
      await monitor.until(/workers online: 2 +tasks: 2/, 'two tasks in the title');
      monitor.press('c');
      await monitor.until(
        /workers online: 2 +tasks: 0 .*\n.*\n \(no tasks yet\)/,
        'the list cleared',
      );
      await monitor.until(/No task selected/, 'no selection left');
    });

    test('a Python task goes RECEIVED -> SUCCESS; j/k, arrows and page keys move; r revokes a queued task, t terminates the running one', async () => {
      const busy = await client.sendTask('tasks.sleep', [60], {}, { queue: pyQueue });
      await monitor.until(taskRow(busy.id, 'tasks.sleep', PY, 'STARTED'), 'the busy task STARTED');
      // After c, the next task seen is selected again.
      await monitor.until(
        taskDetails('tasks.sleep', busy.id, 'STARTED', PY),
        'the busy task selected',
      );
      const queued = await client.sendTask('tasks.add', [2, 3], {}, { queue: pyQueue });
      await monitor.until(
        taskRow(queued.id, 'tasks.add', PY, 'RECEIVED'),
        'a queued task RECEIVED',
      );
      const victim = await client.sendTask('tasks.add', [5, 5], {}, { queue: pyQueue });
      await monitor.until(taskRow(victim.id, 'tasks.add', PY, 'RECEIVED'), 'a third task RECEIVED');
      await monitor.until(/tasks: 3 /, 'three tasks');
      // Newest first: victim, queued, busy (selected). Each key moves the selection one way.
      const selected = (id: string, name: string, state: string, key: string): Promise<string> =>
        monitor.until(
          taskDetails(name, id, state, PY),
          `${id} selected after ${JSON.stringify(key)}`,
        );
      monitor.press('k');
      await selected(queued.id, 'tasks.add', 'RECEIVED', 'k');
      monitor.press(KEY.up);
      await selected(victim.id, 'tasks.add', 'RECEIVED', 'up');
      monitor.press(KEY.up);
      await selected(victim.id, 'tasks.add', 'RECEIVED', 'up at the top');
      monitor.press('j');
      await selected(queued.id, 'tasks.add', 'RECEIVED', 'j');
      monitor.press(KEY.down);
      await selected(busy.id, 'tasks.sleep', 'STARTED', 'down');
      monitor.press(KEY.pageUp);
      const top = await selected(victim.id, 'tasks.add', 'RECEIVED', 'page up');
      assert.match(top, /^ args: \(5, 5\) {2}kwargs: \{\}/m);
      // r on the queued task: the Python worker flags it (the celeriac worker answers too).
      monitor.press('r');
      const revokedLine = await monitor.until(
        new RegExp(`${literal(PY)}: tasks ${victim.id} flagged as revoked`),
        "the Python worker's revoke reply",
      );
      assert.match(
        revokedLine,
        new RegExp(`${literal(TS)}: tasks ${victim.id} flagged as revoked`),
      );
      // t on the running task: Python's prefork pool kills the process running it.
      monitor.press(KEY.pageDown);
      await selected(busy.id, 'tasks.sleep', 'STARTED', 'page down');
      const terminatedAt = Date.now();
      monitor.press('t');
      const terminateLine = await monitor.until(
        new RegExp(`${literal(PY)}: terminate: ${busy.id}`),
        "the Python worker's terminate reply",
      );
      assert.match(terminateLine, new RegExp(`${literal(TS)}: terminate: tasks unknown`));
      await monitor.until(taskRow(busy.id, 'tasks.sleep', PY, 'REVOKED'), 'the busy task REVOKED');
      assert.ok(Date.now() - terminatedAt < 20_000, 'terminated long before its 60 s');
      await monitor.until(
        taskRow(queued.id, 'tasks.add', PY, 'SUCCESS'),
        'the queued task SUCCESS',
      );
      await monitor.until(
        taskRow(victim.id, 'tasks.add', PY, 'REVOKED'),
        'the revoked task REVOKED',
      );
      assert.equal(await queued.get({ timeout: 10 }), 5);
      await assert.rejects(victim.get({ timeout: 10 }), /revoked/i);
      assert.equal(await busy.state(), 'REVOKED');
      assert.equal(await victim.state(), 'REVOKED');
      // The queued task's details: its result and runtime, from Python's task-succeeded.
      monitor.press(KEY.pageUp);
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 300));
        if (taskDetails('tasks.add', queued.id, 'SUCCESS', PY).test(monitor.screen())) break;
        monitor.press('j');
      }
      const s = await monitor.until(
        taskDetails('tasks.add', queued.id, 'SUCCESS', PY),
        'the succeeded task selected',
      );
      assert.match(
        s,
        /received \d\d:\d\d:\d\d {2}started \d\d:\d\d:\d\d {2}succeeded \d\d:\d\d:\d\d {2}runtime \d+\.\d{3}s/,
      );
      assert.match(s, /^ result: 5$/m);
      const exited = monitor.exited;
      monitor.press('q');
      assert.equal(await exited, 0);
    });
  },
);
