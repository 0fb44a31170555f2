/**
 * Canvases across processes: two celeriac worker processes share the broker and the result
 * store (the embedded SQLite file, and a real Redis), a client in this process applies
 * chains, groups and chords. The chord join is atomic in the store: with both workers
 * completing header tasks concurrently, every body runs exactly once and none is left
 * waiting (every result arrives before a deadline).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Celery, chain, chord, group, type AsyncResult } from '../../src/index.js';
import { readRuns, startCanvasWorker } from '../support/canvas-workers.js';
import type { ManagedProcess } from '../support/process.js';
import { startRedis, type RedisServer } from '../support/servers.js';

/** The client's handles on the workers' tasks (test/fixtures/apps/canvas.ts). */
function client(url: string) {
  const app = new Celery('client', { broker: url, backend: url });
  return {
    app,
    add: app.remoteTask<[x: number, y: number], number>('tasks.add'),
    mul: app.remoteTask<[x: number, y: number], number>('tasks.mul'),
    xsum: app.remoteTask<[numbers: number[]], number>('tasks.xsum'),
    fail: app.remoteTask<[message: string], number>('tasks.fail'),
    onError: app.remoteTask<[taskId: string], string>('tasks.on_error'),
  };
}

interface Store {
  name: string;
  setUp(dir: string): Promise<{ url: string; stop(): Promise<void> }>;
  /** Chords in the many-chords test. */
  chords: number;
}

const stores: Store[] = [
  {
    name: 'the embedded SQLite store',
    chords: 200,
    setUp: async (dir) => ({ url: `sqlite:///${join(dir, 'canvas.db')}`, stop: async () => {} }),
  },
  {
    name: 'Redis',
    chords: 1000,
    setUp: async () => {
      const redis: RedisServer = await startRedis({ db: 5, flush: true });
      return { url: redis.url, stop: () => redis.stop() };
    },
  },
];

for (const store of stores) {
  void describe(`canvases on two worker processes, ${store.name}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-canvas-'));
    const runLog = join(dir, 'runs.log');
    let server: { url: string; stop(): Promise<void> };
    let c: ReturnType<typeof client>;
    const workers: ManagedProcess[] = [];
    const output = (): string => workers.map((w) => w.output().slice(-4000)).join('\n----\n');

    before(async () => {
      server = await store.setUp(dir);
      c = client(server.url);
      // One worker runs tasks on its event loop, the other in child processes (-P prefork),
      // which also serves the `prefork` queue.
      workers.push(
        await startCanvasWorker({ brokerUrl: server.url, runLog, name: 'w1', concurrency: 8 }),
        await startCanvasWorker({
          brokerUrl: server.url,
          runLog,
          name: 'w2',
          concurrency: 4,
          pool: 'prefork',
          queues: ['celery', 'prefork'],
        }),
      );
    });
    after(async () => {
      await Promise.all(workers.map((w) => w.stop()));
      await c?.app.close();
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    void test('chain of 3, group of 10, chord of 10', async () => {
      const { add, mul, xsum } = c;
      const ch = await chain(add.s(1, 2), add.s(3), mul.s(4)).delay();
      assert.equal(await ch.get({ timeout: 60 }), 24, output());
      const g = await group(Array.from({ length: 10 }, (_, i) => add.s(i, i))).delay();
      assert.deepEqual(await g.get({ timeout: 60 }), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
      const cd = await chord(
        Array.from({ length: 10 }, (_, i) => add.s(i, i)),
        xsum.s(),
      ).delay();
      assert.equal(await cd.get({ timeout: 60 }), 90);
    });

    void test('ctx.replace in a prefork child: the replacement keeps the id and the chain', async () => {
      const { mul } = c;
      const replacing = c.app.remoteTask<[n: number], number>('tasks.replace_with_chain');
      const res = await replacing.s(4).set({ queue: 'prefork' }).delay();
      assert.equal(await res.get({ timeout: 60 }), 50, output());
      const chained = await chain(replacing.s(1).set({ queue: 'prefork' }), mul.s(2)).delay();
      assert.equal(await chained.get({ timeout: 60 }), 40, output());
    });

    void test('a failing header task fails the chord; the body never runs', async () => {
      const { add, xsum, fail, onError } = c;
      const res = await chord(
        [add.s(1, 1), fail.s('header-boom')],
        xsum.s().onError(onError.s()),
      ).delay();
      await assert.rejects(
        res.get({ timeout: 60 }),
        /Dependency .* raised ValueError\('header-boom'\)/,
      );
      const errback = await until(() =>
        readRuns(runLog).find((r) => r.task === 'tasks.on_error' && r.args[0] === res.id),
      );
      assert.ok(errback, output());
      assert.equal(readRuns(runLog).filter((r) => r.id === res.id).length, 0, 'the body never ran');
    });

    void test(`${store.chords} chords of 10 tasks: every body runs exactly once, none hangs`, async () => {
      const { add, xsum } = c;
      const bodies: AsyncResult<number>[] = [];
      // Applied 25 at a time, as concurrent clients would.
      for (let n = 0; n < store.chords; n += 25) {
        const batch = Array.from({ length: Math.min(25, store.chords - n) }, (_, k) =>
          chord(
            Array.from({ length: 10 }, (_, i) => add.s(n + k, i)),
            xsum.s(),
          ).delay(),
        );
        bodies.push(...(await Promise.all(batch)));
      }
      // The deadline: every body's result arrives within it, or the test fails.
      const values = await Promise.all(bodies.map((b) => b.get({ timeout: 240 })));
      values.forEach((v, n) => assert.equal(v, 10 * n + 45));
      const runs = readRuns(runLog);
      const ids = new Set(bodies.map((b) => b.id));
      const bodyRuns = runs.filter((r) => ids.has(r.id));
      assert.equal(bodyRuns.length, store.chords, 'one run per body');
      assert.equal(new Set(bodyRuns.map((r) => r.id)).size, store.chords);
      const nodes = new Set(runs.filter((r) => r.task === 'tasks.add').map((r) => r.hostname));
      assert.equal(nodes.size, 2, `both workers ran header tasks: ${[...nodes].join(', ')}`);
    });

    if (store.name === 'Redis') {
      void test('after the run, every key the workers and the client wrote expires, except kombu binding sets', async () => {
        const raw = new Redis(server.url);
        try {
          // Acks ride with each worker's next Redis call: give them a moment to settle.
          const forever = async (): Promise<string[]> => {
            const out: string[] = [];
            for (const key of await raw.keys('*'))
              if ((await raw.ttl(key)) < 0 && !key.startsWith('_kombu.binding.')) out.push(key);
            return out;
          };
          const until = Date.now() + 5000;
          while ((await forever()).length > 0 && Date.now() < until)
            await new Promise((r) => setTimeout(r, 100));
          const keys = await raw.keys('*');
          assert.ok(
            keys.some((k) => k.startsWith('celery-task-meta-')),
            'results were written',
          );
          assert.ok(
            keys.some((k) => k.startsWith('celery-taskset-meta-')),
            'chord keys were written',
          );
          assert.deepEqual(await forever(), [], 'keys without a TTL');
        } finally {
          raw.disconnect();
        }
      });
    }
  });
}

async function until<T>(check: () => T | undefined, ms = 30_000): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined || Date.now() > end) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}
