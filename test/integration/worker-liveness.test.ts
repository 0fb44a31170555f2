/**
 * The worker's liveness check (issue 4: "a worker never stays alive while silently consuming
 * nothing"): `celeriac worker --liveness-file` refreshes the file only while the worker is
 * running, connected and consuming; `celeriac liveness <file>` is the probe. Against a real
 * redis-server that is stopped and started again (the file goes stale, then is refreshed
 * again by the same process), one that stops answering while the connection stays up (the
 * consumer is wedged in a claim), and `--max-unhealthy`. On SQLite, Worker.liveness() in
 * process: unhealthy while the broker file is locked with work waiting, healthy after.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { Celery, Worker } from '../../src/index.js';
import { encodeTaskMessage, newTaskMessage } from '../../src/protocol/task-message.js';
import { Logger } from '../../src/util/logger.js';
import { ROOT, run, sandbox, startWorker, type WorkerProcess } from '../e2e/cli-helpers.js';
import { redisServerPath, startRedis, type RedisServer } from '../support/servers.js';

const APP = join(ROOT, 'test', 'fixtures', 'apps', 'interop.ts');
const skipRedis = !process.env.CI && !redisServerPath() ? 'redis-server is not installed' : false;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function mtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/** `celeriac liveness <file> --max-age <s>`: its exit code and what it said. */
async function probe(
  file: string,
  maxAge: number,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; text: string }> {
  const r = await run(['liveness', file, '--max-age', String(maxAge)], { env });
  return { code: r.code, text: r.stdout + r.stderr };
}

/** Lines of the worker's output from offset `from` on. */
function since(worker: WorkerProcess, from: number): string {
  return worker.output().slice(from);
}

void describe('worker liveness on Redis', { skip: skipRedis }, () => {
  const box = sandbox();
  const servers: RedisServer[] = [];
  const workers: WorkerProcess[] = [];
  after(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await Promise.all(servers.map((s) => s.stop()));
    box.cleanup();
  });

  const start = async (
    extra: string[],
    conf: Record<string, unknown> = {},
  ): Promise<{ redis: RedisServer; worker: WorkerProcess; client: Celery; file: string }> => {
    const redis = await startRedis({ private: true });
    servers.push(redis);
    const file = join(box.dir, `alive-${servers.length}`);
    const env = {
      ...box.env,
      CELERY_BROKER_URL: redis.url,
      CELERY_RESULT_BACKEND: redis.url,
      INTEROP_CONF_JSON: JSON.stringify(conf),
    };
    const worker = await startWorker(
      env,
      ['-c', '2', '--liveness-file', file, '--liveness-interval', '0.25', ...extra],
      APP,
    );
    workers.push(worker);
    const client = new Celery('client', { broker: redis.url, backend: redis.url });
    return { redis, worker, client, file };
  };

  void test('the liveness file is refreshed while consuming, goes stale while Redis is down, and is refreshed again after it is back', async () => {
    const { redis, worker, client, file } = await start([]);
    try {
      await until('the liveness file', () => existsSync(file));
      const first = mtime(file);
      await until('a refresh', () => mtime(file) > first, 5000);
      assert.equal((await probe(file, 2, box.env)).code, 0, 'the probe passes while healthy');
      assert.equal(await (await client.sendTask('tasks.add', [1, 2])).get({ timeout: 20 }), 3);
      assert.doesNotMatch(worker.output(), /Worker unhealthy/, 'healthy from the start');

      const mark = worker.output().length;
      let staleAt = 0;
      await redis.restart!(async () => {
        await until('the worker to report itself unhealthy', () =>
          /Worker unhealthy: the connection to Redis is not ready/.test(since(worker, mark)),
        );
        staleAt = mtime(file);
        await sleep(2000);
        assert.equal(mtime(file), staleAt, 'not refreshed while Redis is down');
        const down = await probe(file, 1.5, box.env);
        assert.equal(down.code, 1, `the probe fails while Redis is down: ${down.text}`);
        assert.match(down.text, /was last refreshed \d+\.\d s ago \(more than 1\.5 s\)/);
      });
      await until('a refresh after the restart', () => mtime(file) > staleAt, 20_000);
      assert.match(since(worker, mark), /Worker healthy again after \d+\.\d s/);
      assert.equal((await probe(file, 2, box.env)).code, 0, 'the probe passes again');
      assert.equal(await (await client.sendTask('tasks.add', [20, 22])).get({ timeout: 20 }), 42);
      assert.equal(worker.child.exitCode, null, 'the same worker process recovered');
      assert.equal(await worker.stop('SIGTERM'), 0);
      assert.equal(existsSync(file), false, 'a stopped worker removes its liveness file');
      const gone = await probe(file, 30, box.env);
      assert.equal(gone.code, 1);
      assert.match(gone.text, /does not exist/);
    } finally {
      await client.close();
    }
  });

  void test('a consumer wedged in a claim Redis never answers (connection up) turns the worker unhealthy, then healthy again', async () => {
    // Three idle re-checks without a completed claim = unhealthy: 1.5 s here (30 s by default).
    const { redis, worker, client, file } = await start([], {
      brokerTransportOptions: { idleRecheckInterval: 0.5 },
    });
    const admin = new Redis(redis.url);
    try {
      await until('the liveness file', () => existsSync(file));
      const mark = worker.output().length;
      await admin.call('CLIENT', 'PAUSE', '6000', 'ALL');
      const pausedAt = Date.now();
      await until(
        'the worker to report itself unhealthy',
        () =>
          /Worker unhealthy: the consumer has not completed a fetch from Redis/.test(
            since(worker, mark),
          ),
        10_000,
      );
      assert.ok(
        Date.now() - pausedAt < 5000,
        'noticed within the window, not at the end of the pause',
      );
      const staleAt = mtime(file);
      await sleep(1500);
      assert.equal(mtime(file), staleAt, 'not refreshed while the consumer is stuck');
      await until('a refresh once Redis answers', () => mtime(file) > staleAt, 20_000);
      assert.ok(Date.now() - pausedAt >= 5500, 'healthy only after the pause ended');
      assert.match(since(worker, mark), /Worker healthy again/);
      assert.equal(await (await client.sendTask('tasks.add', [2, 2])).get({ timeout: 20 }), 4);
    } finally {
      admin.disconnect();
      await client.close();
    }
  });

  void test('tasks finishing one after another while the queue is empty do not look like a stall', async () => {
    // Three idle re-checks without a completed fetch = unhealthy: 1.5 s here. Each finishing task
    // wakes the idle wait before its 0.5 s re-check, for 3 s in all.
    const { worker, client } = await start(['-c', '12'], {
      brokerTransportOptions: { idleRecheckInterval: 0.5 },
    });
    try {
      const mark = worker.output().length;
      const sent = await Promise.all(
        Array.from({ length: 12 }, (_, i) => client.sendTask('tasks.sleep', [0.25 * (i + 1)])),
      );
      await Promise.all(sent.map((r) => r.get({ timeout: 20 })));
      assert.doesNotMatch(since(worker, mark), /Worker unhealthy/);
    } finally {
      await client.close();
    }
  });

  void test('--max-unhealthy: a worker unhealthy for longer exits with status 3', async () => {
    const { redis, worker, client } = await start(['--max-unhealthy', '1']);
    try {
      await redis.restart!(async () => {
        let timer: NodeJS.Timeout | undefined;
        const code = await Promise.race([
          worker.exited,
          new Promise((r) => (timer = setTimeout(() => r('still running'), 20_000))),
        ]);
        clearTimeout(timer);
        assert.equal(code, 3, `exit status:\n${worker.output()}`);
      });
      assert.match(
        worker.output(),
        /CRITICAL\/MainProcess\] Worker unhealthy for \d+\.\d s, longer than the 1 s allowed/,
      );
      assert.match(worker.output(), /Exiting with status 3/);
    } finally {
      await client.close();
    }
  });
  void test('a warm shutdown while Redis is down ends within --shutdown-timeout + 15 s, exit 1; its late-ack task comes back', async () => {
    const conf = { taskAcksLate: true, brokerTransportOptions: { visibilityTimeout: 2 } };
    const { redis, worker, client } = await start(['--shutdown-timeout', '1'], conf);
    try {
      const long = await client.sendTask('tasks.sleep', [3]);
      await worker.waitFor(new RegExp(`Task tasks\\.sleep\\[${long.id}\\] received`));
      await redis.restart!(async () => {
        const asked = Date.now();
        worker.child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const code = await Promise.race([
          worker.exited,
          new Promise((r) => (timer = setTimeout(() => r('still running'), 30_000))),
        ]);
        clearTimeout(timer);
        assert.equal(code, 1, `exit status:\n${worker.output().slice(-3000)}`);
        const took = (Date.now() - asked) / 1000;
        assert.ok(
          took >= 10 && took < 20,
          `exited after ${took.toFixed(1)} s, expected about 16 s`,
        );
      });
      assert.match(
        worker.output(),
        /Shutdown did not finish within 16 s \(is the broker reachable\?\)/,
      );
      // Nothing lost: the message the dead worker held comes back after the visibility timeout.
      const env = { ...box.env, CELERY_BROKER_URL: redis.url, CELERY_RESULT_BACKEND: redis.url };
      const next = await startWorker(
        { ...env, INTEROP_CONF_JSON: JSON.stringify(conf) },
        ['-c', '2'],
        APP,
      );
      workers.push(next);
      assert.equal(await long.get({ timeout: 30 }), 3);
    } finally {
      await client.close();
    }
  });
});

void describe('worker liveness on SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-liveness-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  void test('Worker.liveness(): healthy while consuming, unhealthy while the broker file is locked with work waiting, healthy after', async () => {
    const url = `sqlite:///${join(dir, 'broker.db')}`;
    const conf = { broker: url, backend: url, brokerTransportOptions: { busyTimeout: 50 } };
    const app = new Celery('liveness', conf);
    app.task((x: number, y: number) => x + y, { name: 'tasks.add' });
    const client = new Celery('client', conf);
    const lines: string[] = [];
    const worker = new Worker(app, {
      concurrency: 1,
      logger: new Logger({ level: 'INFO', sink: { write: (l) => void lines.push(l) } }),
      liveness: { interval: 0.1 },
    });
    assert.deepEqual(worker.liveness(), { healthy: false, problem: 'the worker is new' });
    await worker.start();
    const lock = new Database(join(dir, 'broker.db'));
    try {
      assert.deepEqual(worker.liveness(), { healthy: true, problem: null });
      assert.equal(await (await client.sendTask('tasks.add', [1, 2])).get({ timeout: 10 }), 3);

      // A task published, then the write lock taken before the worker's next turn: it sees
      // the task and cannot claim it.
      const clientTransport = await client.connection();
      const id = '11111111-2222-4333-8444-555555555555';
      await clientTransport.publish(
        encodeTaskMessage(newTaskMessage({ id, task: 'tasks.add', args: [20, 22] })),
        { exchange: '', routingKey: 'celery' },
      );
      lock.exec('BEGIN IMMEDIATE');
      await until('the worker to turn unhealthy', () => !worker.healthy(), 5000);
      assert.match(worker.liveness().problem ?? '', /fails: database is locked/);
      await sleep(500);
      assert.equal(worker.healthy(), false, 'still unhealthy while the lock is held');
      assert.ok(
        lines.some((l) => /ERROR\/MainProcess\] Worker unhealthy: the SQLite broker/.test(l)),
      );
      lock.exec('COMMIT');
      await until('the worker to recover', () => worker.healthy(), 5000);
      assert.equal(await client.AsyncResult(id).get({ timeout: 10 }), 42);
      await until('the recovery to be logged', () =>
        lines.some((l) => /Worker healthy again/.test(l)),
      );
    } finally {
      if (lock.inTransaction) lock.exec('ROLLBACK');
      lock.close();
      await worker.stop();
      await app.close();
      await client.close();
    }
    assert.deepEqual(worker.liveness(), { healthy: false, problem: 'the worker is stopped' });
  });
});
