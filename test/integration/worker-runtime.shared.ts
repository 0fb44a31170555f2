/**
 * The worker runtime with real processes and real signals, written against the transport
 * seam: worker-runtime-sqlite.test.ts and worker-runtime-redis.test.ts run this same suite.
 */
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { Celery, RemoteTaskError } from '../../src/index.js';
import { ROOT, sandbox, startWorker, type WorkerProcess } from '../e2e/cli-helpers.js';
import { readRunLog } from '../support/run-log.js';

const RUNTIME = resolve(ROOT, 'test/fixtures/apps/runtime.ts');

export interface Broker {
  name: string;
  url(dir: string): Promise<string>;
  /** Environment for every worker (the runtime app reads VISIBILITY_TIMEOUT). */
  env?: NodeJS.ProcessEnv;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
    const runs = (): RunRecord[] => readRunLog<RunRecord>(runLog);
    /** Waits until the run log has a record for `id` (the task body has started). */
    const started = async (id: string, timeoutMs = 20_000): Promise<RunRecord> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = runs().find((r) => r.id === id);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`task ${id} never started`);
        await sleep(10);
      }
    };
    /** When the backend says the task ended (epoch ms). */
    const doneAt = async (res: { meta(): Promise<{ dateDone?: string | null } | null> }) => {
      const meta = await res.meta();
      assert.ok(meta?.dateDone, 'the result has a date_done');
      return Date.parse(`${meta.dateDone}Z`);
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

    test('countdown 2 s runs at 2 s (±100 ms) although the worker was SIGKILLed in between; once', async () => {
      const first = await start(['-c', '2']);
      const sentAt = Date.now();
      const res = await client.sendTask('runtime.now', [], {}, { countdown: 2 });
      await first.waitFor(new RegExp(`${res.id}\\] received \\(eta`));
      // The log line comes just before the message is moved to the broker's due-time store.
      await sleep(200);
      first.child.kill('SIGKILL'); // a crash: nothing is handed back
      assert.equal(await first.exited, null);
      assert.equal(runs().filter((r) => r.id === res.id).length, 0, 'not run before it was due');
      const second = await start(['-c', '2']);
      const ranAt = (await res.get({ timeout: 20 })) as number;
      const late = ranAt - sentAt - 2000;
      console.log(`# ${broker.name}: countdown 2 s across a SIGKILL: ran ${late} ms from due`);
      assert.ok(Math.abs(late) <= 100, `ran ${late} ms from its due time (sent + 2 s)`);
      // A copy left behind by the dead worker would run again: on SQLite as soon as the next
      // worker sees the dead holder, on Redis once the visibility timeout is over.
      const leaseMs = Number(broker.env?.VISIBILITY_TIMEOUT ?? 0) * 1000;
      await sleep(Math.max(300, sentAt + leaseMs + 1500 - Date.now()));
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

    for (const pool of ['event', 'prefork'] as const) {
      test(`${pool}: one long task does not hold 50 short ones hostage on concurrency 2`, async () => {
        const worker = await start(pool === 'event' ? ['-c', '2'] : ['-P', 'prefork', '-c', '2']);
        if (pool === 'event')
          assert.match(
            worker.output(),
            /runtime\.spin \(1s\) cannot stop a task that blocks the event loop in the event pool/,
          );
        const long = await client.sendTask('runtime.work', [-1, 4000]);
        const longStart = await started(long.id);
        const shorts = await Promise.all(
          Array.from({ length: 50 }, (_, i) => client.sendTask('runtime.work', [i, 5])),
        );
        const values = await Promise.all(shorts.map((r) => r.get({ timeout: 15 })));
        assert.deepEqual(
          values,
          Array.from({ length: 50 }, (_, i) => i),
        );
        assert.equal(await long.ready(), false, 'the long task is still running');
        if (pool === 'prefork') {
          const shortIds = new Set(shorts.map((r) => r.id));
          const pids = new Set(
            runs()
              .filter((r) => shortIds.has(r.id))
              .map((r) => r.pid),
          );
          assert.equal(
            pids.has(longStart.pid),
            false,
            "no short task ran in the long task's process",
          );
        }
        assert.equal(await long.get({ timeout: 15 }), -1);
        await worker.stop();
      });
    }

    test('prefork: a CPU-bound task is killed at its hard limit while other slots keep working', async () => {
      const worker = await start(['-P', 'prefork', '-c', '2']);
      const spin = await client.sendTask('runtime.spin', [3]);
      const spinStart = await started(spin.id);
      // The worker holds at most 2 unacknowledged messages (prefetch multiplier 1) and the
      // late-ack spinner holds one of them: each quick task can be fetched only once the one
      // before it was acknowledged. So the quick tasks running one after another, all while the
      // spinner burns, shows the acknowledgements are not held up either.
      const quick = await Promise.all(
        Array.from({ length: 4 }, (_, i) => client.sendTask('runtime.work', [i, 10])),
      );
      for (const [i, r] of quick.entries()) assert.equal(await r.get({ timeout: 10 }), i);
      const spans = await Promise.all(
        quick.map(async (r) => {
          const run = await started(r.id);
          return { start: run.at, pid: run.pid, done: await doneAt(r) };
        }),
      );
      spans.sort((a, b) => a.start - b.start);
      const lastQuick = Math.max(...spans.map((s) => s.done)) - spinStart.at;
      console.log(`# ${broker.name}: 4 quick tasks done ${lastQuick} ms after the spinner started`);
      assert.ok(
        lastQuick < 800,
        `the quick tasks finished ${lastQuick} ms after the spinner started (its hard limit is 1 s)`,
      );
      for (const s of spans) assert.notEqual(s.pid, spinStart.pid, 'quick tasks use another slot');
      for (let i = 1; i < spans.length; i++)
        assert.ok(
          spans[i]!.start >= spans[i - 1]!.done,
          'one free prefetch slot: each quick task started after the one before it had finished',
        );
      await assert.rejects(
        spin.get({ timeout: 15 }),
        (e: unknown) => e instanceof RemoteTaskError && e.excType === 'TimeLimitExceeded',
      );
      const elapsed = (await doneAt(spin)) - spinStart.at;
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

    test('defaults (early ack): a child killed mid-task fails with WorkerLostError; the worker keeps serving', async () => {
      const worker = await start(['-P', 'prefork', '-c', '1']);
      const res = await client.sendTask('runtime.hang', [10_000]);
      const run = await started(res.id);
      assert.notEqual(run.pid, worker.child.pid, 'the task runs in a child process');
      process.kill(run.pid, 'SIGKILL');
      await assert.rejects(
        res.get({ timeout: 20 }),
        (e: unknown) =>
          e instanceof RemoteTaskError &&
          e.excType === 'WorkerLostError' &&
          /SIGKILL/.test(e.message),
      );
      assert.equal(await res.state(), 'FAILURE');
      const next = await client.sendTask('runtime.work', [5, 1]);
      assert.equal(await next.get({ timeout: 20 }), 5);
      assert.notEqual((await started(next.id)).pid, run.pid, 'the dead child was replaced');
      // Acknowledged when it started: the killed task's message is gone, not run again.
      assert.equal(runs().filter((r) => r.id === res.id).length, 1, 'the killed task ran once');
      assert.equal(worker.child.exitCode, null, 'the worker is still running');
      await worker.stop();
    });

    test('acksLate + rejectOnWorkerLost: a task whose child dies is requeued and then succeeds', async () => {
      const worker = await start(['-P', 'prefork', '-c', '1']);
      const marker = join(box.dir, `crash-once-${Date.now()}`);
      const res = await client.sendTask('runtime.crashOnce', [marker]);
      const pid = (await res.get({ timeout: 20 })) as number;
      assert.equal(await res.state(), 'SUCCESS');
      const mine = runs().filter((r) => r.id === res.id);
      assert.deepEqual(
        mine.map((r) => r.label),
        ['crash-once:first', 'crash-once:again'],
      );
      assert.notEqual(mine[0]!.pid, pid, 'the redelivery ran in the replacement child');
      assert.equal(mine[1]!.pid, pid);
      assert.match(
        worker.output(),
        new RegExp(`${res.id}\\]: the process running it died; the message was requeued`),
      );
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

    test('exhausted retries fail with MaxRetriesExceededError', async () => {
      const worker = await start(['-c', '1']);
      const res = await client.sendTask('runtime.exhaust', []);
      await assert.rejects(res.get({ timeout: 20 }), (e: unknown) => {
        assert.ok(e instanceof RemoteTaskError);
        assert.equal(e.name, 'MaxRetriesExceededError');
        assert.equal(e.excModule, 'celery.exceptions');
        return true;
      });
      assert.equal(await res.state(), 'FAILURE');
      const mine = runs().filter((r) => r.id === res.id);
      assert.equal(mine.length, 3, 'the first run and 2 retries');
      for (let i = 1; i < mine.length; i++)
        assert.ok(mine[i]!.at - mine[i - 1]!.at >= 90, 'each retry waited its countdown (0.1 s)');
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
