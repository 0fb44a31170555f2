/**
 * Python Celery 5.2.6 clients → a celeriac worker, on Redis: what a Python producer sends
 * (args, kwargs, countdown, eta, expires, priority, ignore_result, a retrying task, a failing
 * one) is run by `celeriac worker` (test/fixtures/apps/interop.ts) as Celery would run it,
 * and the Python client's AsyncResult.get() reads the outcome.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openPyDriver, type PyDriverSession, interopSkip } from '../support/python.js';
import { spawnManaged, type ManagedProcess } from '../support/process.js';
import { startRedis, type RedisServer } from '../support/servers.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const APP = join(ROOT, 'test', 'fixtures', 'apps', 'interop.ts');
const BIN = join(ROOT, 'bin', 'celeriac.js');

// Outside CI a machine without Debian's Celery or redis-server skips this file; CI has both.
const skip = interopSkip();

/** What pydriver's `get` prints. */
interface PyGet {
  id: string;
  state: string;
  result: unknown;
  exc_type: string | null;
  exc_module: string | null;
  exc_message: string | null;
  traceback: string | null;
}

interface Run {
  id: string;
  task: string;
  pid: number;
  at: number;
}

/** Starts `celeriac -A interop.ts worker` and waits for "ready.". */
async function startTsWorker(
  brokerUrl: string,
  runLog: string,
  args: readonly string[],
): Promise<ManagedProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CELERY_BROKER_URL: brokerUrl,
    CELERY_RESULT_BACKEND: brokerUrl,
    RUN_LOG: runLog,
  };
  delete env.NODE_OPTIONS;
  const proc = spawnManaged(process.execPath, [BIN, '-A', APP, 'worker', '-l', 'info', ...args], {
    cwd: ROOT,
    env,
    group: true,
    stopTimeoutMs: 15_000,
  });
  try {
    await proc.waitForOutput(/ ready\.$/, 60_000);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return proc;
}

void describe('Python client → celeriac worker (Redis)', { skip }, () => {
  const queue = 'py2ts';
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-py2ts-'));
  const runLog = join(dir, 'runs.jsonl');
  let redis: RedisServer;
  let worker: ManagedProcess;
  let py: PyDriverSession;

  const runs = (id?: string): Run[] => {
    let text = '';
    try {
      text = readFileSync(runLog, 'utf8');
    } catch {
      return [];
    }
    const all = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Run);
    return id === undefined ? all : all.filter((r) => r.id === id);
  };
  const send = async (task: string, ...opts: string[]): Promise<string> =>
    ((await py.run(['send', task, '--queue', queue, ...opts])) as { id: string }).id;
  const get = async (id: string, timeout = 30): Promise<PyGet> =>
    (await py.run(['get', id, '--timeout', String(timeout)], (timeout + 30) * 1000)) as PyGet;

  before(async () => {
    redis = await startRedis({ db: 3, flush: true });
    py = openPyDriver({ brokerUrl: redis.url });
    worker = await startTsWorker(redis.url, runLog, ['-c', '4', '-Q', queue, '-n', 'ts-py2ts@%h']);
  });
  after(async () => {
    await py?.close();
    await worker?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  void test('positional args, keyword args and **kwargs reach the TypeScript tasks', async () => {
    const ids = {
      add: await send('tasks.add', '--args', '[2, 3]'),
      kwargs: await send('tasks.add', '--kwargs', '{"x": 1, "y": 2}'),
      mixed: await send('tasks.mul', '--args', '[6]', '--kwargs', '{"y": 7}'),
      list: await send('tasks.xsum', '--args', '[[1, 2, 3, 4.5]]'),
      echo: await send(
        'tasks.echo',
        '--args',
        '[1, "two", null]',
        '--kwargs',
        '{"k": "v", "n": 3}',
      ),
    };
    const got = {
      add: await get(ids.add),
      kwargs: await get(ids.kwargs),
      mixed: await get(ids.mixed),
      list: await get(ids.list),
      echo: await get(ids.echo),
    };
    for (const g of Object.values(got))
      assert.equal(g.state, 'SUCCESS', `${JSON.stringify(g)}\n${worker.output()}`);
    assert.equal(got.add.result, 5);
    assert.equal(got.kwargs.result, 3);
    assert.equal(got.mixed.result, 42);
    assert.equal(got.list.result, 10.5);
    assert.deepEqual(got.echo.result, { args: [1, 'two', null], kwargs: { k: 'v', n: 3 } });
  });

  void test('countdown and eta: the task runs once, not before it is due', async () => {
    const sentAt = Date.now();
    const countdown = await send('tasks.add', '--args', '[1, 1]', '--countdown', '2');
    const eta = await send(
      'tasks.add',
      '--args',
      '[2, 2]',
      '--eta',
      new Date(sentAt + 2500).toISOString(),
    );
    assert.equal((await get(countdown)).result, 2);
    assert.equal((await get(eta)).result, 4);
    const [c] = runs(countdown);
    const [e] = runs(eta);
    assert.equal(runs(countdown).length, 1, 'the countdown task ran once');
    assert.equal(runs(eta).length, 1, 'the eta task ran once');
    // Python rounds nothing away: its eta is at least sentAt + 2 s; we compare at ms precision.
    assert.ok(c!.at >= sentAt + 2000 - 1, `countdown task ran ${sentAt + 2000 - c!.at} ms early`);
    assert.ok(e!.at >= sentAt + 2500 - 1, `eta task ran ${sentAt + 2500 - e!.at} ms early`);
    assert.match(worker.output(), new RegExp(`tasks\\.add\\[${countdown}\\] received \\(eta `));
  });

  void test('a task that expired before it was delivered is stored REVOKED and never runs', async () => {
    const id = await send(
      'tasks.add',
      '--args',
      '[5, 5]',
      '--expires',
      new Date(Date.now() - 60_000).toISOString(),
    );
    const got = await get(id);
    assert.equal(got.state, 'REVOKED', JSON.stringify(got));
    assert.equal(got.exc_type, 'TaskRevokedError');
    assert.match(got.exc_message ?? '', /expired/);
    const meta = (await py.run(['meta', id])) as { status: string; result: { exc_module: string } };
    assert.equal(meta.result.exc_module, 'celery.exceptions');
    assert.equal(runs(id).length, 0, 'an expired task never runs');
    const soon = await send('tasks.add', '--args', '[5, 5]', '--expires', '120');
    assert.equal((await get(soon)).result, 10, 'a task that expires later runs');
  });

  void test('ignore_result (call option and task attribute): the task runs, nothing is stored', async () => {
    const byOption = await send('tasks.add', '--args', '[3, 4]', '--ignore-result');
    const byTask = await send('tasks.noresult', '--args', '[7]');
    for (const id of [byOption, byTask]) {
      await worker.waitForOutput(new RegExp(`\\[${id}\\] succeeded in `), 30_000);
      assert.equal(runs(id).length, 1);
      assert.equal(await py.run(['meta', id]), null, `no result stored for ${id}`);
    }
  });

  void test("a retrying task: Python's get() waits through RETRY and returns the retried run's value", async () => {
    const id = await send('tasks.retry_once', '--args', '[42]');
    const got = await get(id);
    assert.equal(got.state, 'SUCCESS', JSON.stringify(got));
    assert.equal(got.result, 42);
    const mine = runs(id);
    assert.equal(mine.length, 2, 'ran twice: the first run retried');
    assert.ok(
      mine[1]!.at - mine[0]!.at >= 1000 - 1,
      `the retry waited its 1 s countdown (${mine[1]!.at - mine[0]!.at} ms)`,
    );
    assert.match(worker.output(), new RegExp(`tasks\\.retry_once\\[${id}\\] retry: Retry in 1s`));
  });

  void test("a failing task: Python's get() raises the error type and message, with our traceback", async () => {
    const id = await send('tasks.fail', '--args', '["boom"]');
    const got = await get(id);
    assert.equal(got.state, 'FAILURE', JSON.stringify(got));
    // A JS Error is stored as Python's builtin Exception (spec §d.1), so `except Exception` catches it.
    assert.equal(got.exc_type, 'Exception');
    assert.equal(got.exc_module, 'builtins');
    assert.equal(got.exc_message, 'boom');
    assert.match(got.traceback ?? '', /Error: boom/);
    assert.match(got.traceback ?? '', /interop\.ts/);
  });

  void test('priorities: with the queue filled first, lower numbers run first (Redis semantics)', async () => {
    const prio = 'py2ts-prio';
    const sent: Array<{ id: string; priority: number }> = [];
    for (const [i, priority] of [9, 6, 3, 0, 9, 0, 5, 1].entries()) {
      const id = (
        (await py.run([
          'send',
          'tasks.add',
          '--args',
          `[${i}, 0]`,
          '--queue',
          prio,
          '--priority',
          String(priority),
        ])) as {
          id: string;
        }
      ).id;
      sent.push({ id, priority });
    }
    const single = await startTsWorker(redis.url, runLog, [
      '-c',
      '1',
      '-Q',
      prio,
      '-n',
      'ts-prio@%h',
    ]);
    try {
      for (const { id } of sent) assert.equal((await get(id)).state, 'SUCCESS');
    } finally {
      await single.stop();
    }
    // The run log's line order is the order the tasks ran in (one worker, -c 1); the `at`
    // timestamps are milliseconds, and quick tasks share them.
    const logged = runs().map((r) => r.id);
    const order = sent
      .map((s) => ({ ...s, line: logged.indexOf(s.id) }))
      .sort((a, b) => a.line - b.line)
      .map((s) => s.priority);
    // kombu's steps: 0-2 → the plain list, 3-5 → \x06\x163, 6-8 → \x06\x166, 9 → \x06\x169;
    // FIFO within a step.
    assert.deepEqual(order, [0, 0, 1, 3, 5, 6, 9, 9]);
  });
});
