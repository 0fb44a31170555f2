/**
 * `kill -HUP <worker>` restarts the worker with freshly loaded task code, as in Celery's
 * tutorial, without losing queued tasks.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Celery } from '../../src/index.js';
import { ROOT, sandbox, startWorker } from '../e2e/cli-helpers.js';
import { startRedis } from '../support/servers.js';

const appSource = (version: string): string => `
import { Celery } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/index.ts')).href)};
export const app = new Celery('reload', { workerPoolRestarts: true });
export const version = app.task(() => ${JSON.stringify(version)}, { name: 'reload.version' });
`;

interface Store {
  name: string;
  /** The broker and backend URL; `box` is the sandbox (its env points at an SQLite file). */
  url(box: ReturnType<typeof sandbox>): Promise<string>;
}

const stores: Store[] = [{ name: 'sqlite', url: async (box) => box.env.CELERY_BROKER_URL! }];
// On the test command's shared Redis (db 9) when there is one; CI always has it.
if (process.env.CELERIAC_TEST_REDIS_URL)
  stores.push({ name: 'redis', url: async () => (await startRedis({ db: 9, flush: true })).url });

for (const store of stores) reloadSuite(store);

function reloadSuite(store: Store): void {
  describe(`SIGHUP on ${store.name}`, () => {
    const box = sandbox();
    const pidfile = join(box.dir, 'worker.pid');
    const module = join(box.dir, 'reload-app.mts');
    after(() => {
      try {
        process.kill(Number(readFileSync(pidfile, 'utf8')), 'SIGKILL');
      } catch {
        /* already gone */
      }
      box.cleanup();
    });

    test('reloads changed task code and loses no queued task', async () => {
      writeFileSync(module, appSource('v1'));
      const url = await store.url(box);
      const env = { ...box.env, CELERY_BROKER_URL: url, CELERY_RESULT_BACKEND: url };
      const client = new Celery('client', { broker: url, backend: url });
      const worker = await startWorker(env, ['-c', '2', '--pidfile', pidfile], module);
      try {
        assert.equal(await (await client.sendTask('reload.version')).get({ timeout: 15 }), 'v1');
        const firstPid = Number(readFileSync(pidfile, 'utf8'));
        writeFileSync(module, appSource('v2'));
        process.kill(firstPid, 'SIGHUP');
        // Sent once the old process has begun its restart (a signal is not handled at once,
        // and until then it serves as before): they wait in the broker for the new process.
        await worker.waitFor(/Restarting worker with fresh code/);
        const queued = await Promise.all(
          Array.from({ length: 5 }, () => client.sendTask('reload.version')),
        );
        const values = await Promise.all(queued.map((r) => r.get({ timeout: 30 })));
        assert.deepEqual(values, ['v2', 'v2', 'v2', 'v2', 'v2']);
        const secondPid = Number(readFileSync(pidfile, 'utf8'));
        assert.notEqual(secondPid, firstPid, 'a new process runs the fresh code');
        process.kill(secondPid, 'SIGTERM');
        const deadline = Date.now() + 20_000;
        while (isAlive(secondPid)) {
          if (Date.now() > deadline)
            throw new Error('the restarted worker did not stop on SIGTERM');
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.match(
          worker.output(),
          /Restarting worker with fresh code[\s\S]*ready\.[\s\S]*Warm shutdown/,
        );
      } finally {
        await client.close();
      }
    });

    test('pool_restart: the prefork children load changed task code; the worker process stays', async () => {
      const poolModule = join(box.dir, 'pool-restart-app.mts');
      writeFileSync(poolModule, appSource('v1'));
      const url = await store.url(box);
      const env = { ...box.env, CELERY_BROKER_URL: url, CELERY_RESULT_BACKEND: url };
      const client = new Celery('client', { broker: url, backend: url });
      const node = `pool-restart-${store.name}@test`;
      const worker = await startWorker(env, ['-P', 'prefork', '-c', '2', '-n', node], poolModule);
      try {
        assert.equal(await (await client.sendTask('reload.version')).get({ timeout: 15 }), 'v1');
        writeFileSync(poolModule, appSource('v2'));
        assert.deepEqual(
          await client.control.poolRestart({ reply: true, destination: [node], timeout: 5 }),
          [{ [node]: { ok: 'reload started' } }],
        );
        const after = await Promise.all(
          Array.from({ length: 4 }, () => client.sendTask('reload.version')),
        );
        const values = await Promise.all(after.map((r) => r.get({ timeout: 30 })));
        assert.deepEqual(values, ['v2', 'v2', 'v2', 'v2'], 'the new children run the new code');
        assert.equal(worker.child.exitCode, null, 'the same worker process');
      } finally {
        await worker.stop('SIGTERM');
        await client.close();
      }
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
