/**
 * The event-loop pools ('event', 'solo') behind the Pool interface: outcomes as data, time
 * limits as well as an event loop allows (soft = aborted signal, hard = the job ends and its
 * promise is abandoned), terminate, concurrency, close; and createPool's choices.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Celery } from '../../src/app/celery.js';
import type { TaskContext } from '../../src/app/task-types.js';
import { Logger } from '../../src/util/logger.js';
import { createPool, isPoolKind } from '../../src/worker/pool/create.js';
import { EventLoopPool } from '../../src/worker/pool/inline-pool.js';
import type { PoolOutcome } from '../../src/worker/pool/types.js';
import { job } from '../fixtures/pool-app/jobs.js';

const logger = new Logger({ level: 'CRITICAL' });

function makeApp(): { app: Celery; log: string[] } {
  const app = new Celery('el', { broker: 'memory://', backend: 'memory://' });
  const log: string[] = [];
  app.task((x: number, y: number) => x + y, { name: 'el.add' });
  app.task(
    (message: string): never => {
      throw new TypeError(message);
    },
    { name: 'el.fail' },
  );
  app.task(
    async (ctx: TaskContext, ms: number, name: string) => {
      log.push(`start ${name}`);
      const aborted = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), ms);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      log.push(`end ${name}`);
      return aborted ? `cleaned up after ${(ctx.signal.reason as Error).name}` : 'slept';
    },
    { name: 'el.sleepy', bind: true },
  );
  app.task(
    (ctx: TaskContext, ms: number) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve('late'), ms);
        // Ignores its signal, but lets the test end.
        ctx.signal.addEventListener('abort', () => setTimeout(() => clearTimeout(timer), 300));
      }),
    { name: 'el.stubborn', bind: true },
  );
  app.task(
    async (ctx: TaskContext) => {
      await ctx.updateState('PROGRESS', { n: 1 });
      return 'ok';
    },
    { name: 'el.progress', bind: true },
  );
  return { app, log };
}

function valueOf(outcome: PoolOutcome): unknown {
  assert.equal(outcome.kind, 'success', JSON.stringify(outcome));
  return outcome.kind === 'success' ? outcome.value : undefined;
}

void describe('event-loop pool', () => {
  void test('outcomes are data: success, failure with exception info, NotRegistered; updateState reaches onState', async () => {
    const { app } = makeApp();
    const pool = new EventLoopPool({ app, concurrency: 2, logger });
    await pool.start();
    assert.equal(pool.name, 'event loop');
    assert.deepEqual(pool.pids, []);
    assert.equal(valueOf(await pool.run(job('el.add', [1, 2]))), 3);
    const failed = await pool.run(job('el.fail', ['no']));
    assert.ok(failed.kind === 'failure');
    assert.deepEqual(failed.error, {
      excType: 'TypeError',
      excModule: 'builtins',
      excMessage: ['no'],
    });
    const unknown = await pool.run(job('el.nope', []));
    assert.ok(unknown.kind === 'failure' && unknown.error.excType === 'NotRegistered');
    const progress = job('el.progress', []);
    assert.equal(valueOf(await pool.run(progress)), 'ok');
    assert.deepEqual(progress.states, [['PROGRESS', { n: 1 }]]);
    await pool.close(100);
  });

  void test('runs at most `concurrency` tasks at once; solo runs one; resize changes it', async () => {
    const { app, log } = makeApp();
    const pool = new EventLoopPool({ app, concurrency: 2, logger });
    await Promise.all(['a', 'b', 'c'].map((n) => pool.run(job('el.sleepy', [30, n]))));
    assert.deepEqual(log.slice(0, 3), ['start a', 'start b', 'end a']);
    log.length = 0;
    const solo = createPool('solo', { app, concurrency: 8, logger });
    assert.equal(solo.name, 'solo');
    assert.equal(solo.concurrency, 1);
    await Promise.all(['a', 'b'].map((n) => solo.run(job('el.sleepy', [20, n]))));
    assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b']);
    pool.resize(5);
    assert.equal(pool.concurrency, 5);
  });

  void test('soft limit: the signal aborts with SoftTimeLimitExceeded', async () => {
    const { app } = makeApp();
    const pool = new EventLoopPool({ app, concurrency: 1, logger });
    assert.equal(
      valueOf(await pool.run(job('el.sleepy', [5000, 's'], { soft: 0.05 }))),
      'cleaned up after SoftTimeLimitExceeded',
    );
  });

  void test('hard limit: the job ends with TimeLimitExceeded and frees its slot although the task ignores its signal', async () => {
    const { app } = makeApp();
    const pool = new EventLoopPool({ app, concurrency: 1, logger });
    const outcome = await pool.run(job('el.stubborn', [5000], { hard: 0.1 }));
    assert.ok(
      outcome.kind === 'failure' && outcome.cause === 'time-limit',
      JSON.stringify(outcome),
    );
    assert.deepEqual(outcome.error, {
      excType: 'TimeLimitExceeded',
      excModule: 'billiard.exceptions',
      excMessage: [0.1],
    });
    assert.equal(valueOf(await pool.run(job('el.add', [2, 2]))), 4);
  });

  void test('terminate: aborts at once (a cooperative task ends by itself), abandons after the grace, cancels queued jobs', async () => {
    const { app } = makeApp();
    const pool = new EventLoopPool({ app, concurrency: 1, logger });
    const cooperative = job('el.sleepy', [5000, 'c']);
    const first = pool.run(cooperative);
    const queued = job('el.add', [1, 1]);
    const second = pool.run(queued);
    pool.terminate(queued.request.id, 1000);
    await cooperative.startedIn;
    pool.terminate(cooperative.request.id, 1000);
    assert.equal(valueOf(await first), 'cleaned up after TaskRevokedError');
    const cancelled = await second;
    assert.ok(cancelled.kind === 'failure' && cancelled.cause === 'terminated');
    const stubborn = job('el.stubborn', [5000]);
    const third = pool.run(stubborn);
    await stubborn.startedIn;
    pool.terminate(stubborn.request.id, 20);
    const ended = await third;
    assert.ok(
      ended.kind === 'failure' &&
        ended.cause === 'terminated' &&
        ended.error.excType === 'TaskRevokedError',
    );
  });

  void test('close waits for running tasks up to its timeout, then ends them as worker-lost; run() is refused after', async () => {
    const { app } = makeApp();
    const pool = new EventLoopPool({ app, concurrency: 2, logger });
    const quick = pool.run(job('el.sleepy', [10, 'q']));
    const stuck = pool.run(job('el.stubborn', [5000]));
    await pool.close(100);
    assert.equal(valueOf(await quick), 'slept');
    const lost = await stuck;
    assert.ok(lost.kind === 'failure' && lost.cause === 'worker-lost');
    await assert.rejects(pool.run(job('el.add', [1, 1])), { code: 'CLOSED' });
  });
});

void describe('createPool', () => {
  void test('knows the -P names and says what each kind needs', () => {
    assert.ok(
      isPoolKind('prefork') &&
        isPoolKind('processes') &&
        isPoolKind('threads') &&
        isPoolKind('solo') &&
        isPoolKind('event'),
    );
    assert.ok(!isPoolKind('gevent'));
    assert.throws(() => createPool('prefork', { concurrency: 1, logger }), {
      code: 'CONFIG_INVALID',
      message: /-A <module>/,
    });
    assert.throws(() => createPool('event', { concurrency: 1, logger }), {
      code: 'CONFIG_INVALID',
      message: /needs the app/,
    });
    const { app } = makeApp();
    assert.equal(createPool('event', { concurrency: 3, logger, app }).name, 'event loop');
    assert.equal(
      createPool('threads', { concurrency: 2, logger, appSpec: 'x.ts' }).name,
      'threads',
    );
    assert.equal(
      createPool('processes', { concurrency: 2, logger, appSpec: 'x.ts' }).name,
      'prefork',
    );
  });
});
