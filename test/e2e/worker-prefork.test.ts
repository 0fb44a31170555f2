/**
 * The worker with -P prefork, as users start it: tasks run in child processes that load the
 * same -A module, CPU-bound tasks do not stall the worker, and hard time limits kill.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ROOT, run, sandbox, startWorker, TASKS } from './cli-helpers.js';

const CONFIGURED = join(ROOT, 'test/fixtures/apps/configured.ts');

describe('celeriac worker -P prefork', () => {
  const box = sandbox();
  after(() => box.cleanup());

  test('runs tasks in child processes and stores their results', async () => {
    const worker = await startWorker(box.env, ['-P', 'prefork', '-c', '2']);
    try {
      assert.match(worker.output(), /concurrency: 2 \(prefork\)/);
      const call = await run(['-A', TASKS, 'call', 'tasks.mul', '--args', '[6,7]'], {
        env: box.env,
      });
      const result = await run(['-A', TASKS, 'result', call.stdout.trim(), '--timeout', '30'], {
        env: box.env,
      });
      assert.equal(result.stdout.trim(), '42', result.stderr);
      const failed = await run(['-A', TASKS, 'call', 'tasks.fail', '--args', '["from a child"]'], {
        env: box.env,
      });
      const shown = await run(['-A', TASKS, 'result', failed.stdout.trim(), '--timeout', '30'], {
        env: box.env,
      });
      assert.equal(shown.stdout.trim(), 'Exception: from a child');
    } finally {
      assert.equal(await worker.stop(), 0);
    }
  });

  test('the pool, concurrency and state db come from the app settings; flags win', async () => {
    const stateDb = join(box.dir, 'worker.state');
    const env = { ...box.env, STATE_DB: stateDb };
    const configured = await startWorker(env, [], CONFIGURED);
    try {
      assert.match(configured.output(), /concurrency: 3 \(threads\)/);
      assert.match(configured.output(), new RegExp(`Loaded 0 revoked task ids from ${stateDb}`));
      const call = await run(['-A', CONFIGURED, 'call', 'configured.add', '--args', '[2,3]'], {
        env,
      });
      const result = await run(
        ['-A', CONFIGURED, 'result', call.stdout.trim(), '--timeout', '30'],
        {
          env,
        },
      );
      assert.equal(result.stdout.trim(), '5', result.stderr);
    } finally {
      assert.equal(await configured.stop(), 0);
    }
    const flagged = await startWorker(env, ['-P', 'solo'], CONFIGURED);
    try {
      assert.match(flagged.output(), /concurrency: 1 \(solo\)/);
    } finally {
      assert.equal(await flagged.stop(), 0);
    }
  });
});
