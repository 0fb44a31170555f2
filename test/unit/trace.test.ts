/** trace(): a run whose signal was aborted before the body started; sync and async bodies. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BaseTask, Celery } from '../../src/index.js';
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

  void test('a synchronous body is traced without a promise; an async one, a throw and a retry as before', async () => {
    const app = new Celery('trace-test', { broker: 'memory://', backend: 'memory://' });
    app.task((x: number, y: number) => x + y, { name: 't.add' });
    app.task(async (x: number) => Promise.resolve(x * 2), { name: 't.double' });
    app.task(
      () => {
        throw new TypeError('bad');
      },
      { name: 't.throws' },
    );
    app.task(
      () => {
        throw new RangeError('flaky');
      },
      { name: 't.flaky', autoretryFor: [RangeError], maxRetries: 3, defaultRetryDelay: 7 },
    );
    class Hooked extends BaseTask<[number], number> {
      static override options = { name: 't.hooked' };
      run(x: number): number {
        return x;
      }
      override onSuccess(): void {}
    }
    app.task(Hooked);
    const services = {
      signal: new AbortController().signal,
      updateState: async () => {},
      warn: () => {},
      now: () => Date.now(),
    };
    const run = (name: string, args: unknown[]) =>
      trace(app.tasks.get(name)!, request(name, args), services);

    const added = run('t.add', [2, 3]);
    assert.ok(!(added instanceof Promise), 'a plain value comes back as a plain outcome');
    assert.equal(added.kind === 'success' && added.value, 5);

    const doubled = run('t.double', [21]);
    assert.ok(doubled instanceof Promise, 'a promise-returning body is awaited');
    const d = await doubled;
    assert.equal(d.kind === 'success' && d.value, 42);

    const thrown = run('t.throws', []);
    assert.ok(!(thrown instanceof Promise));
    assert.equal(thrown.kind, 'failure');
    assert.ok(thrown.kind === 'failure' && thrown.error instanceof TypeError);
    assert.match(thrown.kind === 'failure' ? thrown.traceback : '', /TypeError: bad/);

    const retried = await run('t.flaky', []);
    assert.equal(retried.kind, 'retry');
    assert.equal(retried.kind === 'retry' && retried.countdown, 7);

    const hooked = run('t.hooked', [1]);
    assert.ok(hooked instanceof Promise, 'hooks keep the async path');
    const h = await hooked;
    assert.equal(h.kind === 'success' && h.value, 1);
    await app.close();
  });
});
