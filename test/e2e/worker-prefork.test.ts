/**
 * The worker with -P prefork, as users start it: tasks run in child processes that load the
 * same -A module, CPU-bound tasks do not stall the worker, and hard time limits kill.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { run, sandbox, startWorker, TASKS } from './cli-helpers.js';

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
});
