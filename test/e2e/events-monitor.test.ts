/**
 * `celeriac events` in a real terminal: the monitor runs under `script` (a pseudo-terminal),
 * keys are typed into it and its screen is read back. A worker with task events runs one task
 * at a time, so the screen shows tasks going from RECEIVED to SUCCESS, a queued task revoked
 * with the `r` key ends REVOKED, and the running one terminated with `t` ends REVOKED too.
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Celery } from '../../src/index.js';
import { ROOT, sandbox, startWorker, type WorkerProcess } from './cli-helpers.js';
import {
  hasScript,
  KEY,
  startMonitor,
  taskDetails,
  taskRow,
  type Monitor,
} from './monitor-helpers.js';

const APP = resolve(ROOT, 'test/fixtures/apps/remote.ts');
const NODE = 'mon@test';

void describe(
  'celeriac events: the terminal monitor',
  { skip: hasScript ? false : 'script(1) is not installed' },
  () => {
    const box = sandbox();
    const url = `sqlite:///${box.dir}/broker.db`;
    const env = { ...box.env, CELERY_BROKER_URL: url, CELERY_RESULT_BACKEND: url };
    let worker: WorkerProcess;
    let monitor: Monitor;
    const client = new Celery('client', { broker: url, backend: url });
    const row = (id: string, state: string, name = 'remote.add'): RegExp =>
      taskRow(id, name, NODE, state);

    before(async () => {
      worker = await startWorker(
        env,
        ['-E', '-c', '1', '--prefetch-multiplier', '3', '-n', NODE],
        APP,
      );
      monitor = startMonitor(['-A', APP], env);
    });
    after(async () => {
      monitor?.kill();
      await worker?.stop('SIGKILL');
      await client.close();
      box.cleanup();
    });

    test('shows the worker online, tasks from RECEIVED to SUCCESS, and revokes a queued task with r', async () => {
      await monitor.until(/workers online: 1/, 'the worker online');
      await monitor.until(/Workers: mon@test \(online/, 'the workers line');
      const busy = await client.sendTask('remote.wait', [4]);
      await monitor.until(row(busy.id, 'STARTED', 'remote.wait'), 'the busy task STARTED');
      const queued = await client.sendTask('remote.add', [2, 3]);
      await monitor.until(
        row(queued.id, 'RECEIVED'),
        'the next task RECEIVED while the slot is busy',
      );
      const victim = await client.sendTask('remote.add', [5, 5]);
      await monitor.until(row(victim.id, 'RECEIVED'), 'a third task RECEIVED');
      // The newest task is the top row: move up to it, see its details, revoke it.
      monitor.press('k', 'k', 'k', 'k', 'k');
      await monitor.until(
        taskDetails('remote.add', victim.id, 'RECEIVED', NODE),
        'the selected task details',
      );
      monitor.press('r');
      await monitor.until(
        new RegExp(`mon@test: tasks ${victim.id} flagged as revoked`),
        'the revoke reply',
      );
      await monitor.until(row(queued.id, 'SUCCESS'), 'the queued task SUCCESS');
      await monitor.until(row(victim.id, 'REVOKED'), 'the revoked task REVOKED');
      assert.equal(await queued.get({ timeout: 10 }), 5);
      await assert.rejects(victim.get({ timeout: 10 }), /revoked/);
      const s = monitor.screen();
      assert.match(s, row(busy.id, 'SUCCESS', 'remote.wait'));
      assert.match(s, /celeriac events +sqlite:\/\/\/.* +workers online: 1 +tasks: 3/);
    });

    test('j and the arrow keys move the selection; t terminates the running task', async () => {
      const busy = await client.sendTask('remote.wait', [60]);
      await monitor.until(row(busy.id, 'STARTED', 'remote.wait'), 'the busy task STARTED');
      const queued = await client.sendTask('remote.add', [1, 1]);
      await monitor.until(row(queued.id, 'RECEIVED'), 'the queued task RECEIVED');
      // Newest first: queued, busy, then the three done tasks of the first test.
      monitor.press(KEY.pageUp);
      await monitor.until(taskDetails('remote.add', queued.id, 'RECEIVED', NODE), 'the top task');
      monitor.press('j');
      await monitor.until(taskDetails('remote.wait', busy.id, 'STARTED', NODE), 'j: the next one');
      monitor.press(KEY.down);
      const third = await monitor.until(
        /^ remote\.\w+ [0-9a-f-]{36} {2}(SUCCESS|REVOKED) /m,
        'down: a done task',
      );
      assert.doesNotMatch(third, taskDetails('remote.wait', busy.id, 'STARTED', NODE));
      monitor.press(KEY.up);
      await monitor.until(taskDetails('remote.wait', busy.id, 'STARTED', NODE), 'up: back');
      const started = Date.now();
      monitor.press('t');
      await monitor.until(new RegExp(`mon@test: terminate: ${busy.id}`), 'the terminate reply');
      await monitor.until(row(busy.id, 'REVOKED', 'remote.wait'), 'the terminated task REVOKED');
      assert.ok(Date.now() - started < 20_000, 'terminated long before its 60 s');
      await assert.rejects(busy.get({ timeout: 10 }), /terminated/);
      await monitor.until(row(queued.id, 'SUCCESS'), 'the queued task SUCCESS');
      assert.equal(await queued.get({ timeout: 10 }), 2);
    });

    test('c clears finished tasks; l sets a rate limit through a prompt that the worker applies; q quits', async () => {
      monitor.press('c');
      await monitor.until(/workers online: 1 +tasks: 0 /, 'the list cleared');
      const add = await client.sendTask('remote.add', [3, 4]);
      assert.equal(await add.get({ timeout: 10 }), 7);
      // The next task seen is selected.
      await monitor.until(
        taskDetails('remote.add', add.id, 'SUCCESS', NODE),
        'the new task selected',
      );
      monitor.press('l');
      await monitor.until(
        /Rate limit for remote\.add \(e\.g\. 10\/m; empty = none\): █/,
        'the prompt',
      );
      monitor.press('6', '0', 'x', '\x7f', '/m');
      await monitor.until(
        /Rate limit for remote\.add .*: 60\/m█/,
        'the typed limit, backspace applied',
      );
      monitor.press(KEY.enter);
      await monitor.until(/mon@test: new rate limit set successfully/, 'the rate limit reply');
      // 60/m: one start a second, so three tasks take two seconds or more.
      const t0 = Date.now();
      const three = await Promise.all([1, 2, 3].map((n) => client.sendTask('remote.add', [n, n])));
      assert.deepEqual(await Promise.all(three.map((r) => r.get({ timeout: 20 }))), [2, 4, 6]);
      assert.ok(Date.now() - t0 >= 1500, `60/m spaced three tasks over ${Date.now() - t0} ms`);
      monitor.press('q');
      assert.equal(await monitor.exited, 0);
      const raw = monitor.raw();
      assert.ok(
        raw.includes('\x1b[?1049l') && raw.includes('\x1b[?25h'),
        'alternate screen left, cursor shown',
      );
    });
  },
);
