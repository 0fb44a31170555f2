/** trace(): a run whose signal was aborted before the body started. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Celery } from '../../src/index.js';
import { trace } from '../../src/app/trace.js';
import { TaskRevokedError } from '../../src/errors.js';
import { request } from '../fixtures/pool-app/jobs.js';

void describe('trace', () => {
  void test('a signal aborted before the body starts: the body never runs, the outcome carries the reason', async () => {
    const app = new Celery('trace-test', { broker: 'memory://', backend: 'memory://' });
    let ran = 0;
    app.task(
      () => {
        ran += 1;
        return 'ran';
      },
      { name: 't.body' },
    );
    const controller = new AbortController();
    // A terminate that arrived with the run (or while an async schema validated the arguments):
    // the signal is aborted before the body could listen.
    controller.abort(new TaskRevokedError('terminated'));
    const services = {
      signal: controller.signal,
      updateState: async () => {},
      warn: () => {},
      now: () => Date.now(),
    };
    const running = trace(app.tasks.get('t.body')!, request('t.body', []), services);
    const outcome = await running;
    assert.equal(ran, 0, 'the body did not run');
    assert.equal(outcome.kind, 'failure');
    assert.ok(outcome.kind === 'failure' && outcome.error instanceof TaskRevokedError);

    // Not aborted: it runs.
    const fine = await trace(app.tasks.get('t.body')!, request('t.body', []), {
      ...services,
      signal: new AbortController().signal,
    });
    assert.deepEqual(fine.kind === 'success' && fine.value, 'ran');
    assert.equal(ran, 1);
    await app.close();
  });
});
