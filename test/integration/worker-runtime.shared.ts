/**
 * The worker runtime with real processes and real signals, written against the transport
 * seam: worker-runtime-sqlite.test.ts and worker-runtime-redis.test.ts run this same suite.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { Celery, RemoteTaskError } from '../../src/index.js';
import { ROOT, sandbox, startWorker, type WorkerProcess } from '../e2e/cli-helpers.js';

const RUNTIME = resolve(ROOT, 'test/fixtures/apps/runtime.ts');

export interface Broker {
  name: string;
  url(dir: string): Promise<string>;
  /** Environment for every worker (the runtime app reads VISIBILITY_TIMEOUT). */
  env?: NodeJS.ProcessEnv;
}

interface RunRecord {
  id: string;
  label: string;
  pid: number;
  at: number;
}

/** Defines the runtime suite for one broker. */
export function runtimeSuite(broker: Broker): void {
  describe(`worker runtime on ${broker.name}`, () => {
    const box = sandbox();
    const runLog = join(box.dir, 'runs.jsonl');
    let url = '';
    let env: NodeJS.ProcessEnv = {};
    let client: Celery;
    const workers: WorkerProcess[] = [];
    const start = async (extra: string[], more: NodeJS.ProcessEnv = {}): Promise<WorkerProcess> => {
      const w = await startWorker({ ...env, ...more }, extra, RUNTIME);
      workers.push(w);
      return w;
    };
    const runs = (): RunRecord[] => {
      try {
        return readFileSync(runLog, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as RunRecord);
      } catch {
        return [];
      }
    };

    before(async () => {
      url = await broker.url(box.dir);
      env = {
        ...box.env,
        ...broker.env,
        CELERY_BROKER_URL: url,
        CELERY_RESULT_BACKEND: url,
        RUN_LOG: runLog,
      };
      client = new Celery('client', { broker: url, backend: url });
      const transport = await client.connection();
      await transport.purge('celery');
    });
    // A test that failed half way must not leave its worker consuming the next test's tasks.
    afterEach(async () => {
      await Promise.all(workers.splice(0).map((w) => w.stop('SIGKILL')));
    });
    after(async () => {
      await Promise.all(workers.map((w) => w.stop('SIGKILL')));
      await client.close();
      box.cleanup();
    });

    test('a countdown task runs on time even when the worker restarts in between; no duplicate', async () => {
      const first = await start(['-c', '2']);
      const eta = Date.now() + 3000;
      const res = await client.sendTask('runtime.now', [], {}, { eta });
      await first.waitFor(new RegExp(`${res.id}\\] received \\(eta`));
      assert.equal(await first.stop('SIGTERM'), 0);
      const second = await start(['-c', '2']);
      const ranAt = (await res.get({ timeout: 20 })) as number;
      assert.ok(Math.abs(ranAt - eta) <= 100, `ran ${ranAt - eta} ms from its eta`);
      assert.equal(runs().filter((r) => r.id === res.id).length, 1, 'ran exactly once');
      await second.stop();
    });

    test('an expired task is stored as REVOKED and never runs', async () => {
      const res = await client.sendTask('runtime.now', [], {}, { expires: 0.2 });
      await new Promise((r) => setTimeout(r, 400));
      const worker = await start(['-c', '1']);
      await assert.rejects(
        res.get({ timeout: 15 }),
        (e: unknown) => e instanceof RemoteTaskError && e.excType === 'TaskRevokedError',
      );
      assert.equal(await res.state(), 'REVOKED');
      assert.equal(runs().filter((r) => r.id === res.id).length, 0);
      await worker.stop();
    });

    test('one long task does not hold 50 short ones hostage on concurrency 2', async () => {
      const worker = await start(['-c', '2']);
      assert.match(
        worker.output(),
        /runtime\.spin \(1s\) cannot stop a task that blocks the event loop in the event pool/,
      );
      const long = await client.sendTask('runtime.work', [-1, 4000]);
      const shorts = await Promise.all(
        Array.from({ length: 50 }, (_, i) => client.sendTask('runtime.work', [i, 5])),
      );
      const values = await Promise.all(shorts.map((r) => r.get({ timeout: 15 })));
      assert.deepEqual(
        values,
        Array.from({ length: 50 }, (_, i) => i),
      );
      assert.equal(await long.ready(), false, 'the long task is still running');
      assert.equal(await long.get({ timeout: 15 }), -1);
      await worker.stop();
    });

    test('prefork: a CPU-bound task is killed at its hard limit while other slots keep working', async () => {
      const worker = await start(['-P', 'prefork', '-c', '2']);
      const t0 = Date.now();
      const spin = await client.sendTask('runtime.spin', [3]);
      await worker.waitFor(new RegExp(`${spin.id}\\] received`));
      const quick = await client.sendTask('runtime.work', [7, 10]);
      assert.equal(await quick.get({ timeout: 10 }), 7);
      assert.ok(Date.now() - t0 < 2500, 'the short task finished while the spinner burned CPU');
      await assert.rejects(
        spin.get({ timeout: 15 }),
        (e: unknown) => e instanceof RemoteTaskError && e.excType === 'TimeLimitExceeded',
      );
      const meta = await spin.meta();
      const elapsed = Date.parse(`${meta?.dateDone}Z`) - runs().find((r) => r.id === spin.id)!.at;
      assert.ok(elapsed >= 900 && elapsed < 2000, `killed after ${elapsed} ms`);
      const soft = await client.sendTask('runtime.soft', []);
      assert.equal(await soft.get({ timeout: 10 }), 'aborted: SoftTimeLimitExceeded');
      await worker.stop();
    });

    test('a child killed mid-task fails with WorkerLostError and the worker keeps serving', async () => {
      const worker = await start(['-P', 'prefork', '-c', '1']);
      const res = await client.sendTask('runtime.poison', []);
      await assert.rejects(
        res.get({ timeout: 20 }),
        (e: unknown) => e instanceof RemoteTaskError && e.excType === 'WorkerLostError',
      );
      assert.equal(await (await client.sendTask('runtime.work', [5, 1])).get({ timeout: 20 }), 5);
      await worker.stop();
    });

    test('with rejectOnWorkerLost a poison message is redelivered until the cap, then dead-lettered', async () => {
      const transport = await client.connection();
      const before = await transport.size('celeriac.dead_letter');
      const worker = await start(['-P', 'prefork', '-c', '1'], {
        REJECT_ON_WORKER_LOST: '1',
        MAX_REDELIVERIES: '3',
      });
      const res = await client.sendTask('runtime.poison', []);
      await worker.waitFor(
        new RegExp(`${res.id}\\] was delivered 4 times .* dead-letter queue`),
        40_000,
      );
      assert.equal(await transport.size('celeriac.dead_letter'), before + 1);
      assert.equal(runs().filter((r) => r.id === res.id).length, 3);
      assert.equal(await (await client.sendTask('runtime.work', [6, 1])).get({ timeout: 20 }), 6);
      await worker.stop();
    });

    test('automatic retries with backoff run at the computed times', async () => {
      const worker = await start(['-c', '1']);
      const res = await client.sendTask('runtime.backoff', []);
      assert.equal(await res.get({ timeout: 20 }), 2);
      const times = runs()
        .filter((r) => r.id === res.id)
        .map((r) => r.at);
      assert.equal(times.length, 3);
      const gaps = [times[1]! - times[0]!, times[2]! - times[1]!];
      assert.ok(
        Math.abs(gaps[0]! - 1000) < 300 && Math.abs(gaps[1]! - 2000) < 300,
        `gaps ${gaps.join(', ')} ms (want 1000, 2000)`,
      );
      await worker.stop();
    });

    test('--autoscale grows the pool to the demand', async () => {
      const worker = await start(['--autoscale=4,1']);
      assert.match(worker.output(), /concurrency: 1 \(event loop\)/);
      const t0 = Date.now();
      const results = await Promise.all(
        Array.from({ length: 4 }, (_, i) => client.sendTask('runtime.work', [i, 2000])),
      );
      for (const [i, r] of results.entries()) assert.equal(await r.get({ timeout: 20 }), i);
      const elapsed = Date.now() - t0;
      assert.ok(elapsed < 6000, `4 tasks of 2 s took ${elapsed} ms: they did not overlap`);
      await worker.stop();
    });

    test('SIGTERM during 10 running tasks lets them finish, exits 0, loses nothing', async () => {
      const worker = await start(['-c', '10']);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => client.sendTask('runtime.work', [i, 1500])),
      );
      for (const r of results) await worker.waitFor(new RegExp(`${r.id}\\] received`));
      assert.equal(await worker.stop('SIGTERM'), 0);
      assert.match(worker.output(), /Warm shutdown/);
      for (const [i, r] of results.entries()) assert.equal(await r.get({ timeout: 1 }), i);
    });

    test('200 late-ack tasks survive a SIGKILL of the worker half way: none lost', async () => {
      const first = await start(['-P', 'prefork', '-c', '2']);
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => client.sendTask('runtime.work', [i, 50])),
      );
      const deadline = Date.now() + 60_000;
      while (
        runs().filter((r) => r.label === 'work' && results.some((x) => x.id === r.id)).length < 100
      ) {
        if (Date.now() > deadline) throw new Error('half the tasks never ran');
        await new Promise((r) => setTimeout(r, 50));
      }
      first.child.kill('SIGKILL');
      await first.exited;
      const second = await start(['-P', 'prefork', '-c', '2']);
      const values = await Promise.all(results.map((r) => r.get({ timeout: 90 })));
      assert.deepEqual(
        values,
        Array.from({ length: 200 }, (_, i) => i),
      );
      const ids = new Set(results.map((r) => r.id));
      const counts = new Map<string, number>();
      for (const r of runs()) if (ids.has(r.id)) counts.set(r.id, (counts.get(r.id) ?? 0) + 1);
      const twice = [...counts.values()].filter((n) => n > 1).length;
      console.log(`# ${broker.name}: 200 tasks, SIGKILL half way: ${twice} ran twice, 0 lost`);
      assert.ok(twice <= 4, `at most the in-flight tasks run twice (ran twice: ${twice})`);
      await second.stop();
    });
  });
}
