/**
 * A mixed pool on one Redis queue: a Python Celery 5.2.6 worker and a celeriac worker consume
 * the same queue while a Python client and a celeriac client each send 500 tasks. Every task
 * runs exactly once (counted from the celeriac worker's run log and the Python worker's
 * "succeeded" log lines, and cross-checked with the `worker` field of the extended result
 * metas), every result is right, and nothing is left in the queue or in `unacked`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Celery } from '../../src/index.js';
import { openPyDriver, startPyWorker, type PyWorker, interopSkip } from '../support/python.js';
import { spawnManaged, type ManagedProcess } from '../support/process.js';
import { startRedis, type RedisServer } from '../support/servers.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const APP = join(ROOT, 'test', 'fixtures', 'apps', 'interop.ts');
const BIN = join(ROOT, 'bin', 'celeriac.js');

// Outside CI a machine without Debian's Celery or redis-server skips this file; CI has both.
const skip = interopSkip();

const PER_CLIENT = 500;

interface PyGet {
  id: string;
  state: string;
  result: unknown;
}

void describe('mixed pool: a Python and a celeriac worker on one Redis queue', { skip }, () => {
  const queue = 'mixed';
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-mixed-'));
  const runLog = join(dir, 'runs.jsonl');
  const tsName = `ts-mixed-${process.pid}@localhost`;
  let redis: RedisServer;
  let pyWorker: PyWorker;
  let tsWorker: ManagedProcess;
  let app: Celery;

  before(async () => {
    redis = await startRedis({ db: 5, flush: true });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CELERY_BROKER_URL: redis.url,
      CELERY_RESULT_BACKEND: redis.url,
      RUN_LOG: runLog,
      INTEROP_CONF_JSON: JSON.stringify({ resultExtended: true }),
    };
    delete env.NODE_OPTIONS;
    tsWorker = spawnManaged(
      process.execPath,
      [BIN, '-A', APP, 'worker', '-l', 'info', '-c', '4', '-Q', queue, '-n', tsName],
      { cwd: ROOT, env, group: true, stopTimeoutMs: 15_000 },
    );
    [pyWorker] = await Promise.all([
      startPyWorker({
        brokerUrl: redis.url,
        queues: [queue],
        concurrency: 2,
        conf: { result_extended: true },
      }),
      tsWorker.waitForOutput(/ ready\.$/, 60_000),
    ]);
    app = new Celery('client', { broker: redis.url, backend: redis.url, resultExtended: true });
  });
  after(async () => {
    await app?.close();
    await Promise.all([pyWorker?.stop(), tsWorker?.stop()]);
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  void test('1,000 tasks from both kinds of client: each runs exactly once, none is lost', async () => {
    const py = openPyDriver({ brokerUrl: redis.url, conf: { result_extended: true } });
    try {
      // Task i computes i + 100000, so every result says which task it belongs to.
      const pyArgs = Array.from({ length: PER_CLIENT }, (_, i) => [i, 100_000]);
      const [fromPy, fromTs] = await Promise.all([
        py.run(['send-many', 'tasks.add', '--args-list', JSON.stringify(pyArgs), '--queue', queue]),
        Promise.all(
          Array.from({ length: PER_CLIENT }, (_, i) =>
            app.sendTask('tasks.add', [PER_CLIENT + i, 100_000], {}, { queue }),
          ),
        ),
      ]);
      const ids = [...(fromPy as { ids: string[] }).ids, ...fromTs.map((r) => r.id)];
      assert.equal(new Set(ids).size, 2 * PER_CLIENT);

      // Every result, read by us...
      const values = await Promise.all(ids.map((id) => app.AsyncResult(id).get({ timeout: 120 })));
      assert.deepEqual(
        values,
        ids.map((_, i) => i + 100_000),
      );
      // ... and by Python's AsyncResult.get().
      const got = (await py.run(['wait-all', ...ids, '--timeout', '30'], 120_000)) as {
        results: PyGet[];
      };
      assert.deepEqual(
        got.results.map((g) => g.result),
        ids.map((_, i) => i + 100_000),
      );

      // Who ran what: celeriac's run log, the Python worker's "succeeded" lines.
      const tsRuns = new Map<string, number>();
      const countTs = (): void => {
        tsRuns.clear();
        for (const line of readFileSync(runLog, 'utf8').split('\n').filter(Boolean)) {
          const { id } = JSON.parse(line) as { id: string };
          tsRuns.set(id, (tsRuns.get(id) ?? 0) + 1);
        }
      };
      const pyRuns = new Map<string, number>();
      const countPy = (): void => {
        pyRuns.clear();
        for (const m of pyWorker
          .output()
          .matchAll(/tasks\.add\[([0-9a-f-]{36})\] succeeded in /g)) {
          pyRuns.set(m[1]!, (pyRuns.get(m[1]!) ?? 0) + 1);
        }
      };
      const total = (): number =>
        [...tsRuns.values(), ...pyRuns.values()].reduce((a, b) => a + b, 0);
      // Python logs "succeeded" once its pool reported back, possibly after the result was stored.
      const deadline = Date.now() + 30_000;
      do {
        await new Promise((r) => setTimeout(r, 100));
        countTs();
        countPy();
      } while (total() < ids.length && Date.now() < deadline);
      await new Promise((r) => setTimeout(r, 1000)); // a duplicate would show up by now
      countTs();
      countPy();
      const twice = ids.filter((id) => (tsRuns.get(id) ?? 0) + (pyRuns.get(id) ?? 0) > 1);
      const never = ids.filter((id) => (tsRuns.get(id) ?? 0) + (pyRuns.get(id) ?? 0) === 0);
      assert.deepEqual(twice, [], 'no task ran twice');
      assert.deepEqual(never, [], 'every task ran');
      assert.equal(total(), ids.length);
      console.log(
        `# mixed pool: celeriac ran ${tsRuns.size}, Python ran ${pyRuns.size} of ${ids.length}`,
      );
      assert.ok(tsRuns.size > 0, 'the celeriac worker took a share');
      assert.ok(pyRuns.size > 0, 'the Python worker took a share');

      // The extended metas name the worker that ran each task.
      for (const id of ids) {
        const meta = await app.AsyncResult(id).meta();
        const expected = tsRuns.has(id) ? tsName : pyWorker.hostname;
        assert.equal(meta?.worker, expected, `meta.worker of ${id}`);
        assert.equal(meta?.name, 'tasks.add');
        assert.equal(meta?.queue, queue);
      }

      // Nothing left behind: the queue and `unacked` are empty once both workers acked.
      const raw = new Redis(redis.url);
      try {
        const ackDeadline = Date.now() + 10_000;
        while ((await raw.hlen('unacked')) > 0 && Date.now() < ackDeadline) {
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(await raw.hlen('unacked'), 0, 'every delivery was acked');
        assert.equal(await raw.zcard('unacked_index'), 0);
        assert.equal(await raw.llen(queue), 0);
      } finally {
        raw.disconnect();
      }
    } finally {
      await py.close();
    }
  });
});
