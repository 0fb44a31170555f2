/**
 * The worker's way with each kind of message, in one process on the memory transport:
 * results, failures, kwargs, retries, unknown tasks, malformed and refused messages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Celery, RemoteTaskError, Worker, type TaskContext } from '../../src/index.js';
import { Logger } from '../../src/util/logger.js';
import type { WireMessage } from '../../src/protocol/types.js';

function quietLogger(lines: string[]): Logger {
  return new Logger({ level: 'INFO', sink: { write: (line: string) => void lines.push(line) } });
}

describe('worker on the memory transport', () => {
  const lines: string[] = [];
  const app = new Celery('t', { broker: 'memory://', backend: 'memory://' });
  const add = app.task((x: number, y: number) => x + y, { name: 'tasks.add' });
  const fail = app.task(
    (message: string): never => {
      throw new TypeError(message);
    },
    { name: 'tasks.fail' },
  );
  let attempts = 0;
  const flaky = app.task(
    (ctx: TaskContext, x: number) => {
      attempts++;
      if (ctx.request.retries < 2) ctx.retry({ countdown: 0.01, exc: new Error('transient') });
      return x * 10;
    },
    { name: 'tasks.flaky', bind: true },
  );
  const exhausted = app.task((ctx: TaskContext) => ctx.retry({ countdown: 0.01 }), {
    name: 'tasks.exhausted',
    bind: true,
    maxRetries: 1,
  });
  const echo = app.task(
    (ctx: TaskContext, ...args: unknown[]) => ({ args, kwargs: ctx.request.kwargs }),
    {
      name: 'tasks.echo',
      bind: true,
      kwargsTo: 'context',
    },
  );
  let release: () => void = () => {};
  const progress = app.task(
    async (ctx: TaskContext) => {
      await ctx.updateState('PROGRESS', { done: 1, total: 2 });
      await new Promise<void>((resolve) => (release = resolve));
      return 'finished';
    },
    { name: 'tasks.progress', bind: true, trackStarted: true },
  );
  const worker = new Worker(app, { concurrency: 4, logger: quietLogger(lines) });

  before(async () => {
    await worker.start();
  });
  after(async () => {
    await worker.stop();
    await app.close();
  });

  test('runs a task and stores its result', async () => {
    const res = await add.delay(4, 4);
    assert.equal(await res.get({ timeout: 5 }), 8);
    assert.equal(await res.state(), 'SUCCESS');
    assert.ok(
      lines.some((l) =>
        /INFO\/MainProcess\] Task tasks\.add\[.*\] succeeded in [\d.]+s: 8/.test(l),
      ),
    );
  });

  test('updateState is readable from AsyncResult while the task runs', async () => {
    const res = await progress.delay();
    await waitFor(async () => (await res.state()) === 'PROGRESS');
    assert.deepEqual(await res.result(), { done: 1, total: 2 });
    release();
    assert.equal(await res.get({ timeout: 5 }), 'finished');
  });

  test('binds kwargs to parameters by name, as Python callers send them', async () => {
    const res = await add.applyAsync([], { y: 2, x: 40 });
    assert.equal(await res.get({ timeout: 5 }), 42);
  });

  test('a failing task rejects get() with its error type and message', async () => {
    const res = await fail.delay('boom');
    await assert.rejects(res.get({ timeout: 5 }), (error: unknown) => {
      assert.ok(error instanceof RemoteTaskError);
      assert.equal(error.excType, 'TypeError');
      assert.equal(error.message, 'boom');
      assert.match(error.remoteTraceback ?? '', /TypeError: boom/);
      return true;
    });
    assert.equal(await res.state(), 'FAILURE');
    assert.equal(
      ((await res.get({ timeout: 1, propagate: false })) as unknown) instanceof Error,
      true,
    );
  });

  test('retries re-send the task until it succeeds', async () => {
    attempts = 0;
    const res = await flaky.delay(4);
    assert.equal(await res.get({ timeout: 5 }), 40);
    assert.equal(attempts, 3);
  });

  test('exhausted retries fail with MaxRetriesExceededError', async () => {
    const res = await exhausted.delay();
    await assert.rejects(res.get({ timeout: 5 }), (error: unknown) => {
      assert.ok(error instanceof RemoteTaskError);
      assert.equal(error.excType, 'MaxRetriesExceededError');
      return true;
    });
  });

  test('kwargsTo: context leaves kwargs in the request', async () => {
    const res = await echo.applyAsync([1, 'two'], { five: 5 });
    assert.deepEqual(await res.get({ timeout: 5 }), { args: [1, 'two'], kwargs: { five: 5 } });
  });

  test('an unknown task is stored as NotRegistered and the worker keeps running', async () => {
    const res = await app.sendTask('tasks.nope', [1]);
    await assert.rejects(res.get({ timeout: 5 }), (error: unknown) => {
      assert.ok(error instanceof RemoteTaskError);
      assert.equal(error.excType, 'NotRegistered');
      assert.equal(error.excModule, 'celery.exceptions');
      return true;
    });
    assert.ok(lines.some((l) => l.includes("Received unregistered task of type 'tasks.nope'")));
    assert.equal(await (await add.delay(1, 1)).get({ timeout: 5 }), 2);
  });

  test('wrong arity from a foreign producer is a TypeError failure', async () => {
    const res = await app.sendTask('tasks.add', [1, 2, 3]);
    await assert.rejects(res.get({ timeout: 5 }), /takes 2 positional argument/);
  });

  test('an already expired task is stored as REVOKED and never runs', async () => {
    const res = await add.applyAsync([1, 2], null, { expires: new Date(Date.now() - 1000) });
    await assert.rejects(res.get({ timeout: 5 }), (error: unknown) => {
      assert.ok(error instanceof RemoteTaskError);
      assert.equal(error.excType, 'TaskRevokedError');
      assert.deepEqual(error.excArgs, ['expired']);
      return true;
    });
    assert.equal(await res.state(), 'REVOKED');
  });

  for (const [label, wire, reason] of badMessages()) {
    test(`${label} goes to the dead-letter queue with a logged reason`, async () => {
      const transport = await app.connection();
      const before = await transport.size('celeriac.dead_letter');
      await transport.publish(wire, { exchange: '', routingKey: 'celery' });
      await waitFor(async () => (await transport.size('celeriac.dead_letter')) === before + 1);
      assert.ok(
        lines.some((l) => reason.test(l)),
        `log names the problem: ${reason}`,
      );
      assert.equal(
        await (await add.delay(2, 2)).get({ timeout: 5 }),
        4,
        'the worker keeps running',
      );
    });
  }
});

function badMessages(): Array<[string, WireMessage, RegExp]> {
  const headers = { task: 'tasks.add', id: '00000000-0000-4000-8000-00000000000a' };
  const props = { deliveryMode: 2 };
  return [
    [
      'a pickle message',
      {
        body: Buffer.from('\x80\x04K\x01.'),
        contentType: 'application/x-python-serialize',
        contentEncoding: 'binary',
        headers,
        properties: props,
      },
      /Refusing to deserialize untrusted content of type .*application\/x-python-serialize/,
    ],
    [
      'a body that is not JSON',
      {
        body: Buffer.from('{not json'),
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        headers,
        properties: props,
      },
      /invalid task message/,
    ],
    [
      'a body that is not a list',
      {
        body: Buffer.from('"just a string"'),
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        headers,
        properties: props,
      },
      /invalid task message/,
    ],
    [
      'a message without a task id',
      {
        body: Buffer.from('[[1, 2], {}, {}]'),
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        headers: { task: 'tasks.add' },
        properties: props,
      },
      /invalid task message/,
    ],
  ];
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('workerDisableRateLimits', () => {
  for (const disabled of [false, true]) {
    test(`${disabled ? 'on: a task limited to 1/m runs at once' : 'off: a task limited to 1/m waits after its first run'}`, async () => {
      const app = new Celery('rl', {
        broker: 'memory://',
        backend: 'memory://',
        workerDisableRateLimits: disabled,
      });
      const slow = app.task(() => 'ran', { name: 'rl.slow', rateLimit: '1/m' });
      const worker = new Worker(app, { concurrency: 2, logger: quietLogger([]) });
      await worker.start();
      try {
        const results = [await slow.delay(), await slow.delay(), await slow.delay()];
        const settled = await Promise.allSettled(results.map((r) => r.get({ timeout: 1 })));
        const ran = settled.filter((s) => s.status === 'fulfilled').length;
        assert.equal(ran, disabled ? 3 : 1);
      } finally {
        await worker.stop({ cold: true });
        await app.close();
      }
    });
  }
});
