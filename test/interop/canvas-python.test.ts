/**
 * Canvases between Python Celery 5.2.6 and celeriac on one Redis, both ways: a Python client's
 * chains, groups, chords, links and errbacks run on a celeriac worker (queue `ts`), ours run
 * on a Python worker (queue `py`), and a chord whose header runs partly on each completes
 * with its body run once, whichever worker finishes the header.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  Celery,
  chain,
  chord,
  group,
  GroupResult,
  RemoteTaskError,
  type AnySignature,
} from '../../src/index.js';
import { readRuns, startCanvasWorker } from '../support/canvas-workers.js';
import type { ManagedProcess } from '../support/process.js';
import {
  openPyDriver,
  pythonAvailable,
  startPyWorker,
  type PyDriverSession,
  type PyWorker,
} from '../support/python.js';
import { startRedis, type RedisServer } from '../support/servers.js';

interface GetOutput {
  state: string;
  result: unknown;
  exc_type: string | null;
  exc_message: string | null;
}

// Outside CI a machine without Debian's Celery skips this file; in CI it must run.
const skip = !process.env.CI && !pythonAvailable() ? '/usr/bin/python3 lacks celery' : false;

/** A signature as pydriver takes it. */
function sig(task: string, args: unknown[], options: Record<string, unknown> = {}): string {
  return JSON.stringify({ task, args, kwargs: {}, options, immutable: false });
}

void describe('canvases between Python Celery and celeriac', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-canvas-py-'));
  const runLog = join(dir, 'runs.log');
  let redis: RedisServer;
  let py: PyWorker;
  let ts: ManagedProcess;
  let driver: PyDriverSession;
  let app: Celery;
  const logs = (): string =>
    `--- python\n${py?.output().slice(-3000)}\n--- celeriac\n${ts?.output().slice(-3000)}`;

  before(async () => {
    redis = await startRedis({ db: 7, flush: true });
    const env = { brokerUrl: redis.url };
    [py, ts] = await Promise.all([
      startPyWorker({ ...env, queues: ['py'], concurrency: 2 }),
      startCanvasWorker({ brokerUrl: redis.url, runLog, name: 'ts', queues: ['ts'] }),
    ]);
    driver = openPyDriver(env);
    app = new Celery('client', { broker: redis.url, backend: redis.url });
  });
  after(async () => {
    await driver?.close();
    await Promise.all([py?.stop(), ts?.stop()]);
    await app?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = async <T>(args: string[]): Promise<T> => (await driver.run(args)) as T;
  const pyGet = (id: string): Promise<GetOutput> => run<GetOutput>(['get', id, '--timeout', '30']);

  void describe('a Python client, a celeriac worker', () => {
    const q = { queue: 'ts' };

    void test('chain of 3', async () => {
      const { id } = await run<{ id: string }>([
        'chain',
        sig('tasks.add', [1, 2], q),
        sig('tasks.add', [3], q),
        sig('tasks.mul', [4], q),
      ]);
      const got = await pyGet(id);
      assert.equal(got.state, 'SUCCESS', logs());
      assert.equal(got.result, 24);
    });

    void test('group of 10', async () => {
      const sigs = Array.from({ length: 10 }, (_, i) => sig('tasks.add', [i, i], q));
      const { ids } = await run<{ ids: string[] }>(['group', ...sigs]);
      const { results } = await run<{ results: GetOutput[] }>([
        'wait-all',
        ...ids,
        '--timeout',
        '30',
      ]);
      assert.deepEqual(
        results.map((r) => r.result),
        [0, 2, 4, 6, 8, 10, 12, 14, 16, 18],
        logs(),
      );
    });

    void test('chord of 10 with an xsum body', async () => {
      const sigs = Array.from({ length: 10 }, (_, i) => sig('tasks.add', [i, i], q));
      const { id } = await run<{ id: string }>([
        'chord',
        ...sigs,
        '--body',
        sig('tasks.xsum', [], q),
      ]);
      const got = await pyGet(id);
      assert.equal(got.result, 90, logs());
      assert.equal(readRuns(runLog).filter((r) => r.id === id).length, 1);
    });

    void test('link and link_error', async () => {
      const ok = await run<{ id: string }>([
        'send',
        'tasks.add',
        '--args',
        '[2, 2]',
        '--queue',
        'ts',
        '--link',
        sig('tasks.mul', [10], q),
      ]);
      assert.equal((await pyGet(ok.id)).result, 4, logs());
      const meta = await run<{ children: [[string, null], null][] }>(['meta', ok.id]);
      const child = meta.children[0]![0][0];
      assert.equal((await pyGet(child)).result, 40);
      const bad = await run<{ id: string }>([
        'send',
        'tasks.fail',
        '--args',
        '["linked-boom"]',
        '--queue',
        'ts',
        '--link-error',
        sig('tasks.on_error', [], q),
      ]);
      const failed = await pyGet(bad.id);
      assert.equal(failed.exc_type, 'ValueError', logs());
      assert.equal(failed.exc_message, 'linked-boom');
      const errback = await until(() =>
        readRuns(runLog).find((r) => r.task === 'tasks.on_error' && r.args[0] === bad.id),
      );
      assert.ok(errback, `the errback ran with the failed task's id\n${logs()}`);
      assert.equal((await pyGet(errback.id)).result, bad.id);
    });

    void test('a failing header task: the body fails with ChordError', async () => {
      const { id } = await run<{ id: string }>([
        'chord',
        sig('tasks.add', [1, 1], q),
        sig('tasks.fail', ['header-boom'], q),
        '--body',
        sig('tasks.xsum', [], q),
      ]);
      const got = await pyGet(id);
      assert.equal(got.state, 'FAILURE', logs());
      assert.equal(got.exc_type, 'ChordError');
      assert.match(
        got.exc_message ?? '',
        /^Dependency [0-9a-f-]{36} raised ValueError\('header-boom'\)$/,
      );
    });
  });

  void describe('a celeriac client, a Python worker', () => {
    const onPy = { queue: 'py' };
    const tasks = () => ({
      add: app.remoteTask<[x: number, y: number], number>('tasks.add'),
      mul: app.remoteTask<[x: number, y: number], number>('tasks.mul'),
      xsum: app.remoteTask<[numbers: number[]], number>('tasks.xsum'),
      fail: app.remoteTask<[message: string], number>('tasks.fail'),
      onError: app.remoteTask<[taskId: string], string>('tasks.on_error'),
    });

    void test('chain of 3', async () => {
      const { add, mul } = tasks();
      const res = await chain(
        add.s(1, 2).set(onPy),
        add.s(3).set(onPy),
        mul.s(4).set(onPy),
      ).delay();
      assert.equal(await res.get({ timeout: 30 }), 24, logs());
      assert.equal(await res.parent?.get({ timeout: 30 }), 6);
    });

    void test('group of 10', async () => {
      const { add } = tasks();
      const res = await group(Array.from({ length: 10 }, (_, i) => add.s(i, i).set(onPy))).delay();
      assert.deepEqual(await res.get({ timeout: 30 }), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18], logs());
    });

    void test('chord of 10 with an xsum body (joined by the Python worker)', async () => {
      const { add, xsum } = tasks();
      const res = await chord(
        Array.from({ length: 10 }, (_, i) => add.s(i, i).set(onPy)),
        xsum.s().set(onPy),
      ).delay();
      assert.equal(await res.get({ timeout: 30 }), 90, logs());
      assert.ok(res.parent instanceof GroupResult);
      assert.equal((await res.parent.get({ timeout: 30 })).length, 10);
    });

    void test('link and link_error', async () => {
      const { add, mul, fail, onError } = tasks();
      const ok = await add.applyAsync([2, 2], null, { queue: 'py', link: mul.s(10).set(onPy) });
      assert.equal(await ok.get({ timeout: 30 }), 4, logs());
      const [child] = await ok.children();
      assert.equal(await child?.get({ timeout: 30 }), 40);
      const errbackId = '5ee5ee5e-0000-4000-8000-000000000001';
      const bad = await fail.applyAsync(['linked-boom'], null, {
        queue: 'py',
        linkError: onError.s().set({ queue: 'py', taskId: errbackId }),
      });
      await assert.rejects(bad.get({ timeout: 30 }), (err: Error) => {
        assert.ok(err instanceof RemoteTaskError);
        assert.equal(err.excType, 'ValueError');
        return true;
      });
      assert.equal(await app.AsyncResult(errbackId).get({ timeout: 30 }), bad.id);
    });

    void test('a failing header task: the body fails with ChordError', async () => {
      const { add, fail, xsum } = tasks();
      const res = await chord(
        [add.s(1, 1).set(onPy), fail.s('header-boom').set(onPy)],
        xsum.s().set(onPy),
      ).delay();
      assert.ok(res.parent instanceof GroupResult);
      const failedId = res.parent.results[1]!.id;
      await assert.rejects(res.get({ timeout: 30 }), (err: Error) => {
        assert.equal(err.name, 'ChordError', logs());
        // Celery names the header task that failed: this one, not any id.
        assert.equal(err.message, `Dependency ${failedId} raised ValueError('header-boom')`);
        return true;
      });
    });
  });

  void describe('nested canvases built by celeriac, applied by either side', () => {
    const t = () => ({
      add: app.remoteTask<[x: number, y: number], number>('tasks.add'),
      mul: app.remoteTask<[x: number, y: number], number>('tasks.mul'),
      xsum: app.remoteTask<[numbers: number[]], number>('tasks.xsum'),
    });
    /** The canvases, every task routed to `queue`, and what they return. */
    const canvases = (queue: string): [string, AnySignature, unknown][] => {
      const { add, mul, xsum } = t();
      const o = { queue };
      return [
        [
          'a group in a chain (upgraded to a chord)',
          chain(
            add.s(1, 1).set(o),
            group(add.s(1).set(o), mul.s(2).set(o)),
            xsum.s().set(o),
            mul.s(10).set(o),
          ),
          70,
        ],
        [
          'a chord in a chain',
          chain(
            add.s(2, 2).set(o),
            chord([add.s(1).set(o), add.s(2).set(o)], xsum.s().set(o)),
            mul.s(2).set(o),
          ),
          22,
        ],
        [
          'chains in a group',
          group(
            chain(add.s(1, 1).set(o), mul.s(2).set(o)),
            chain(add.s(2, 2).set(o), mul.s(2).set(o)),
          ),
          [4, 8],
        ],
        [
          'a chord whose body is a chord',
          chord(
            [add.s(1, 1).set(o), add.s(2, 2).set(o)],
            chord([xsum.s().set(o), xsum.s().set(o)], xsum.s().set(o)),
          ),
          12,
        ],
        [
          'a chain ending in a group',
          chain(add.s(1, 1).set(o), group(add.s(1).set(o), mul.s(5).set(o))),
          [3, 10],
        ],
        [
          'a chord whose header has a chain',
          chord([chain(add.s(1, 1).set(o), mul.s(2).set(o)), add.s(5, 5).set(o)], xsum.s().set(o)),
          14,
        ],
      ];
    };

    const names = [
      'a group in a chain (upgraded to a chord)',
      'a chord in a chain',
      'chains in a group',
      'a chord whose body is a chord',
      'a chain ending in a group',
      'a chord whose header has a chain',
    ];
    for (const name of names) {
      void test(`${name}: Python applies our dict form, the celeriac worker runs it`, async () => {
        const [, canvas, expected] = canvases('ts').find(([n]) => n === name)!;
        const applied = await run<{ id: string; group: boolean; ids?: string[] }>([
          'apply',
          JSON.stringify(canvas.toDict()),
        ]);
        if (applied.group && name === 'a chain ending in a group') {
          // Celery 5.2.6 itself: the GroupResult that a chain ending in a group returns may name,
          // as its first id, one that never runs (the group is frozen again when the chain is
          // applied; it depends on timing), with a Python worker as with ours. So: the other ids
          // hold the right results, the first holds its result or is not there in time, on our worker
          // and on Python's own alike.
          const ids = (
            await run<{ ids: string[] }>([
              'apply',
              JSON.stringify(
                canvases('py')
                  .find(([n]) => n === name)![1]
                  .toDict(),
              ),
            ])
          ).ids;
          for (const group of [applied.ids!, ids]) {
            const { results } = await run<{ results: GetOutput[] }>([
              'wait-all',
              ...group,
              '--timeout',
              '3',
            ]);
            assert.equal(results[1]!.result, 10, logs());
            assert.ok(
              results[0]!.result === 3 || results[0]!.exc_type === 'TimeoutError',
              `${JSON.stringify(results[0])}\n${logs()}`,
            );
          }
        } else if (applied.group) {
          const { results } = await run<{ results: GetOutput[] }>([
            'wait-all',
            ...applied.ids!,
            '--timeout',
            '30',
          ]);
          assert.deepEqual(
            results.map((r) => r.result),
            expected,
            logs(),
          );
        } else {
          const got = await pyGet(applied.id);
          assert.equal(got.state, 'SUCCESS', `${JSON.stringify(got)}\n${logs()}`);
          assert.deepEqual(got.result, expected);
        }
      });

      void test(`${name}: we apply it, the Python worker runs it`, async () => {
        const [, canvas, expected] = canvases('py').find(([n]) => n === name)!;
        const res = await app.signature(canvas).delay();
        assert.deepEqual(await res.get({ timeout: 30 }), expected, logs());
      });
    }
  });

  void describe('a chord whose header runs on both workers', () => {
    const h = () => ({
      add: app.remoteTask<[x: number, y: number], number>('tasks.add'),
      sleep: app.remoteTask<[seconds: number], number>('tasks.sleep'),
      xsum: app.remoteTask<[numbers: number[]], number>('tasks.xsum'),
    });

    for (const last of ['py', 'ts'] as const) {
      void test(`completes once when the ${last === 'py' ? 'Python' : 'celeriac'} worker finishes last`, async () => {
        const { add, sleep, xsum } = h();
        const first = last === 'py' ? 'ts' : 'py';
        const res = await chord(
          [
            add.s(1, 1).set({ queue: first }),
            add.s(2, 2).set({ queue: last }),
            add.s(3, 3).set({ queue: first }),
            sleep.s(0.5).set({ queue: last }),
          ],
          xsum.s().set({ queue: 'ts' }),
        ).delay();
        assert.equal(await res.get({ timeout: 30 }), 12.5, logs());
        const header = res.parent as GroupResult;
        const sleeper = header.results[3]!.id;
        const meta = await (await app.backend()).get(res.id);
        assert.equal(
          meta?.parentId,
          sleeper,
          'the body was sent by the worker that ran the last header task',
        );
        assert.equal(
          readRuns(runLog).filter((r) => r.id === res.id).length,
          1,
          'the body ran once',
        );
      });
    }

    void test('20 mixed chords: each body runs exactly once', async () => {
      const { add, xsum } = h();
      const bodies = await Promise.all(
        Array.from({ length: 20 }, (_, n) =>
          chord(
            Array.from({ length: 10 }, (_, i) => add.s(n, i).set({ queue: i % 2 ? 'py' : 'ts' })),
            xsum.s().set({ queue: 'ts' }),
          ).delay(),
        ),
      );
      const values = await Promise.all(bodies.map((b) => b.get({ timeout: 60 })));
      values.forEach((v, n) => assert.equal(v, 10 * n + 45));
      const runs = readRuns(runLog);
      for (const b of bodies) assert.equal(runs.filter((r) => r.id === b.id).length, 1);
    });
  });
});

async function until<T>(check: () => T | undefined, ms = 30_000): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined || Date.now() > end) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}
