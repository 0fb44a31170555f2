/**
 * Remote control and events between Python Celery 5.2.6 and celeriac, both ways, on one
 * Redis: Python's `celery inspect` / `app.control` / `celery events --dump` see and steer a
 * celeriac worker; `celeriac inspect` / app.control / `celeriac events --dump` see and steer a
 * Python worker; revocations cross both ways, also through mingle's hello at worker start.
 */
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Celery } from '../../src/index.js';
import { ROOT, run, sandbox, startWorker, type WorkerProcess } from '../e2e/cli-helpers.js';
import {
  PY_DIR,
  PYTHON,
  runPyDriver,
  startPyWorker,
  type PyWorker,
  interopSkip,
} from '../support/python.js';
import { spawnManaged, type ManagedProcess } from '../support/process.js';
import { startRedis, type RedisServer } from '../support/servers.js';

const APP = resolve(ROOT, 'test/fixtures/apps/remote.ts');
const BIN = join(ROOT, 'bin', 'celeriac.js');

// Outside CI a machine without Debian's Celery or redis-server skips this file; CI has both.
const skip = interopSkip();

type Json = Record<string, unknown>;

void describe('remote control and events: Python Celery <-> celeriac', { skip }, () => {
  const TS = `ts-${process.pid}@interop`;
  const PY = `py-${process.pid}@interop`;
  const tsQueue = `ts-${process.pid}`;
  const pyQueue = `py-${process.pid}`;
  const box = sandbox();
  let redis: RedisServer;
  let env: { brokerUrl: string };
  let tsEnv: NodeJS.ProcessEnv;
  let tsWorker: WorkerProcess;
  let pyWorker: PyWorker;
  let client: Celery;
  const spawned: ManagedProcess[] = [];

  /** `python3 -m celery -A pyapp <args>` in test/interop/py. */
  const celery = (args: string[]): ManagedProcess => {
    const p = spawnManaged(PYTHON, ['-m', 'celery', '-A', 'pyapp', ...args], {
      cwd: PY_DIR,
      env: {
        ...process.env,
        CELERY_BROKER_URL: redis.url,
        PYTHONUNBUFFERED: '1',
        C_FORCE_ROOT: '1',
      },
    });
    spawned.push(p);
    return p;
  };
  /** Runs `celery ...` to its end and returns its output. */
  const celeryOutput = async (args: string[]): Promise<{ code: number | null; output: string }> => {
    const p = celery(args);
    await new Promise<void>((r) => {
      const check = setInterval(() => {
        if (p.exited()) {
          clearInterval(check);
          r();
        }
      }, 50);
    });
    return { code: p.exited()?.code ?? null, output: p.output() };
  };
  /** `celeriac ...` as a long-running process. */
  const celeriac = (args: string[]): ManagedProcess => {
    const p = spawnManaged(process.execPath, [BIN, ...args], { cwd: ROOT, env: tsEnv });
    spawned.push(p);
    return p;
  };

  before(async () => {
    redis = await startRedis({ db: 12, flush: true });
    env = { brokerUrl: redis.url };
    tsEnv = { ...box.env, CELERY_BROKER_URL: redis.url, CELERY_RESULT_BACKEND: redis.url };
    client = new Celery('client', { broker: redis.url, backend: redis.url });
    [tsWorker, pyWorker] = await Promise.all([
      startWorker(tsEnv, ['-E', '-n', TS, '-c', '2', '-P', 'prefork', '-Q', tsQueue], APP),
      startPyWorker({ ...env, hostname: PY, queues: [pyQueue], concurrency: 1, events: true }),
    ]);
  });
  after(async () => {
    await Promise.all(spawned.map((p) => p.stop()));
    await tsWorker?.stop('SIGKILL');
    await pyWorker?.stop();
    await client?.close();
    await redis?.stop();
    box.cleanup();
  });

  test('`celery inspect ping` lists the celeriac worker (and the Python one)', async () => {
    const one = await celeryOutput(['inspect', 'ping', '-d', TS, '-t', '3']);
    assert.equal(one.code, 0, one.output);
    assert.match(one.output, new RegExp(`->  ${TS}: OK\\s+pong`));
    assert.match(one.output, /1 node online\./);
    const all = await celeryOutput(['inspect', 'ping', '-t', '3']);
    assert.match(all.output, new RegExp(`->  ${TS}: OK`));
    assert.match(all.output, new RegExp(`->  ${PY}: OK`));
    const status = await celeryOutput(['status', '-t', '3']);
    assert.match(status.output, /2 nodes online\./);
  });

  test("Python's inspect registered / stats / active / Flower's other polls read celeriac's replies", async () => {
    const insp = async (cmd: string, extra: string[] = []): Promise<unknown> =>
      (
        (await runPyDriver(
          ['inspect', cmd, '--destination', TS, '--timeout', '3', ...extra],
          env,
        )) as Json
      )[TS];
    assert.deepEqual(await insp('registered'), [
      'remote.add',
      'remote.block',
      'remote.now',
      'remote.wait',
    ]);
    const stats = (await insp('stats')) as Json;
    assert.equal((stats['pool'] as Json)['max-concurrency'], 2);
    assert.equal(typeof stats['clock'], 'string');
    assert.equal((stats['broker'] as Json)['transport'], 'redis');
    const r = await client.sendTask('remote.block', [30], {}, { queue: tsQueue });
    let active: Json[] = [];
    for (let i = 0; i < 100 && !active.some((t) => t['id'] === r.id); i++) {
      active = (await insp('active')) as Json[];
    }
    const info = active.find((t) => t['id'] === r.id)!;
    assert.equal(info['type'], 'remote.block');
    assert.deepEqual(info['args'], [30]);
    assert.equal(info['hostname'], TS);
    // The other commands Flower polls answer with their shapes.
    assert.ok(Array.isArray(await insp('scheduled')), 'scheduled');
    assert.ok(Array.isArray(await insp('reserved')), 'reserved');
    assert.ok(Array.isArray(await insp('revoked')), 'revoked');
    assert.deepEqual(
      ((await insp('active_queues')) as Json[]).map((q) => q['name']),
      [tsQueue],
    );
    assert.equal(typeof ((await insp('conf')) as Json)['broker_url'], 'string');
    const queried = (await runPyDriver(
      [
        'control',
        'query_task',
        '--args',
        JSON.stringify({ ids: [r.id] }),
        '--destination',
        TS,
        '--timeout',
        '3',
      ],
      env,
    )) as { replies: Json[] };
    const q = queried.replies[0]![TS] as Json;
    assert.equal((q[r.id] as unknown[])[0], 'active');
    // A Python client terminates it.
    const replies = (await runPyDriver(
      [
        'control',
        'revoke',
        '--args',
        JSON.stringify({ task_id: r.id, terminate: true, signal: 'SIGKILL' }),
        '--destination',
        TS,
        '--timeout',
        '3',
      ],
      env,
    )) as { replies: Json[] };
    assert.deepEqual(replies.replies, [{ [TS]: { ok: `terminate: ${r.id}` } }]);
    await assert.rejects(r.get({ timeout: 20 }), /terminated/);
  });

  test('Python control commands get Python-shaped replies from celeriac', async () => {
    const control = async (cmd: string, args: Json): Promise<unknown> =>
      (
        (await runPyDriver(
          ['control', cmd, '--args', JSON.stringify(args), '--destination', TS, '--timeout', '3'],
          env,
        )) as { replies: Json[] }
      ).replies;
    assert.deepEqual(await control('rate_limit', { task_name: 'remote.add', rate_limit: '10/m' }), [
      { [TS]: { ok: 'new rate limit set successfully' } },
    ]);
    assert.deepEqual(
      await control('rate_limit', { task_name: 'remote.add', rate_limit: 'abc/x' }),
      [{ [TS]: { error: "KeyError('x')" } }],
    );
    assert.deepEqual(await control('rate_limit', { task_name: 'remote.add', rate_limit: null }), [
      { [TS]: { ok: 'rate limit disabled successfully' } },
    ]);
    assert.deepEqual(await control('time_limit', { task_name: 'tasks.nope', soft: 1 }), [
      { [TS]: { error: 'unknown task' } },
    ]);
    assert.deepEqual(await control('heartbeat', {}), [{ [TS]: null }]);
    assert.deepEqual(await control('no_such_command', {}), [
      { [TS]: { error: "KeyError('no_such_command')" } },
    ]);
  });

  test('`celeriac inspect ping` lists the Python worker; app.control decodes its replies', async () => {
    const out = await run(['-b', redis.url, 'inspect', 'ping', '-d', PY, '-t', '3'], {
      env: tsEnv,
    });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`->  ${PY}: OK\\n {8}pong\\n\\n1 node online\\.`));
    const insp = client.control.inspect({ destination: [PY], timeout: 3 });
    const stats = (await insp.stats())[PY];
    assert.ok(stats && !('error' in stats), 'stats decoded');
    if (stats && !('error' in stats)) {
      assert.equal(stats.pool.maxConcurrency, 1);
      assert.equal(stats.broker.transport, 'redis');
      assert.equal(stats.pool.processes.length, 1);
    }
    const registered = (await insp.registered())[PY];
    assert.ok(Array.isArray(registered) && registered.includes('tasks.add'), 'Python task names');
    assert.deepEqual((await insp.activeQueues())[PY], [
      {
        name: pyQueue,
        exchange: { name: pyQueue, type: 'direct' },
        routingKey: pyQueue,
        durable: true,
        exclusive: false,
        autoDelete: false,
      },
    ]);
    assert.deepEqual(
      await client.control.rateLimit('tasks.add', '100/s', {
        reply: true,
        destination: [PY],
        timeout: 3,
      }),
      [{ [PY]: { ok: 'new rate limit set successfully' } }],
    );
  });

  test('`celery events --dump` (Python) shows the celeriac worker and its task events', async () => {
    const dump = celery(['events', '--dump']);
    // Its receiver wakes workers up: our heartbeat means it listens.
    await dump.waitForOutput(
      new RegExp(`^${TS} \\[[^\\]]+\\] heartbeat: .*sw_ident=celeriac`),
      30_000,
    );
    const r = await client.sendTask('remote.add', [2, 3], {}, { queue: tsQueue });
    assert.equal(await r.get({ timeout: 20 }), 5);
    await dump.waitForOutput(
      new RegExp(
        `^${TS} \\[[^\\]]+\\] task succeeded: remote\\.add\\(${r.id}\\) args=\\(2, 3\\) kwargs=\\{\\} .*result=5`,
      ),
      20_000,
    );
    assert.match(
      dump.output(),
      new RegExp(
        `${TS} \\[[^\\]]+\\] task received: remote\\.add\\(${r.id}\\) args=\\(2, 3\\) kwargs=\\{\\} clock=\\d+, eta=None, expires=None, local_received=[\\d.]+, parent_id=None, pid=\\d+, retries=0, root_id=${r.id}, utcoffset=-?\\d+`,
      ),
    );
    assert.match(
      dump.output(),
      new RegExp(`${TS} \\[[^\\]]+\\] task started: remote\\.add\\(${r.id}\\)`),
    );
    await dump.stop();
  });

  test('`celeriac events --dump` shows the Python worker and its task events', async () => {
    const dump = celeriac(['events', '--dump']);
    await dump.waitForOutput(
      new RegExp(`^${PY} \\[[^\\]]+\\] heartbeat: .*sw_ident=py-celery`),
      30_000,
    );
    const r = await client.sendTask('tasks.add', [2, 3], {}, { queue: pyQueue });
    assert.equal(await r.get({ timeout: 20 }), 5);
    await dump.waitForOutput(
      new RegExp(
        `^${PY} \\[[^\\]]+\\] task succeeded: tasks\\.add\\(${r.id}\\) args=\\(2, 3\\) kwargs=\\{\\} .*result=5`,
      ),
      20_000,
    );
    assert.match(
      dump.output(),
      new RegExp(
        `${PY} \\[[^\\]]+\\] task received: tasks\\.add\\(${r.id}\\) args=\\(2, 3\\) kwargs=\\{\\}`,
      ),
    );
    await dump.stop();
  });

  test('a celeriac revoke of a task queued behind a busy Python worker is honoured', async () => {
    const busy = await client.sendTask('tasks.sleep', [3], {}, { queue: pyQueue });
    const queued = await client.sendTask('tasks.add', [1, 1], {}, { queue: pyQueue });
    await client.control.revoke(queued.id);
    assert.equal(await busy.get({ timeout: 30 }), 3);
    await assert.rejects(queued.get({ timeout: 30 }), /revoked/i);
    assert.equal(await queued.state(), 'REVOKED');
    const revoked = (await client.control.inspect({ destination: [PY], timeout: 3 }).revoked())[PY];
    assert.ok(Array.isArray(revoked) && revoked.includes(queued.id), 'listed by the Python worker');
  });

  test("a Python worker starting with mingle learns celeriac's revoked ids (float timestamps)", async () => {
    await client.control.revoke('feedface-0000-4000-8000-000000000001', {
      reply: true,
      destination: [TS],
      timeout: 3,
    });
    const late = await startPyWorker({
      ...env,
      hostname: `late-${PY}`,
      queues: [`late-${pyQueue}`],
      mingle: true,
    });
    try {
      const got = (await runPyDriver(
        ['inspect', 'revoked', '--destination', `late-${PY}`, '--timeout', '3'],
        env,
      )) as Json;
      assert.ok(
        (got[`late-${PY}`] as string[]).includes('feedface-0000-4000-8000-000000000001'),
        late.output(),
      );
      assert.doesNotMatch(late.output(), /Expecting float timestamp|ValueError/);
    } finally {
      await late.stop();
    }
  });
});
