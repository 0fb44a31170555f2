/**
 * The calling API: direct calls, delay/applyAsync options on the wire, eager mode, class
 * tasks and hooks, schema validation, and the errors a bad call gets before anything is sent.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import {
  ArgumentsError,
  BaseTask,
  Celery,
  EncodeError,
  type TaskContext,
} from '../../src/index.js';
import { decodeTaskMessage } from '../../src/protocol/task-message.js';
import { normalizeAccept } from '../../src/serialization/index.js';
import type { Delivery } from '../../src/transport/types.js';

function memoryApp(extra: Record<string, unknown> = {}): Celery {
  return new Celery('tasks', { broker: 'memory://', backend: 'memory://', ...extra });
}

/** Takes the next message from the default queue, decoded. */
async function nextMessage(app: Celery, queue = 'celery') {
  const transport = await app.connection();
  const delivery = await new Promise<Delivery>((resolve) => {
    const consumer = transport.consume({
      queues: [queue],
      prefetch: 1,
      onDelivery: (d) => {
        void consumer.close();
        resolve(d);
      },
    });
  });
  await delivery.ack();
  return {
    delivery,
    message: decodeTaskMessage(delivery.message, normalizeAccept(['json', 'msgpack'])),
  };
}

describe('calling tasks', () => {
  test('calling a task directly runs it here and sends nothing', async () => {
    const app = memoryApp();
    const add = app.task((x: number, y: number) => x + y, { name: 'tasks.add' });
    assert.equal(add(4, 4), 8);
    assert.equal(await (await app.connection()).size('celery'), 0);
    await app.close();
  });

  test('the default name is <main>.<function name>', () => {
    const app = memoryApp();
    function mul(x: number, y: number): number {
      return x * y;
    }
    assert.equal(app.task(mul).taskName, 'tasks.mul');
  });

  test('delay() sends a protocol-2 message with Celery headers', async () => {
    const app = memoryApp();
    const add = app.task((x: number, y: number) => x + y, { name: 'tasks.add' });
    const res = await add.delay(2, 3);
    const { message, delivery } = await nextMessage(app);
    assert.equal(message.id, res.id);
    assert.equal(message.task, 'tasks.add');
    assert.deepEqual(message.args, [2, 3]);
    assert.equal(message.rootId, res.id);
    assert.equal(message.argsrepr, '(2, 3)');
    assert.equal(delivery.message.contentType, 'application/json');
    assert.match(String(delivery.message.headers.origin), /^gen\d+@/);
    await app.close();
  });

  test('applyAsync carries countdown, expires, priority, queue, headers, time limits and task id', async () => {
    const app = memoryApp();
    const add = app.task((x: number, y: number) => x + y, {
      name: 'tasks.add',
      timeLimit: 30,
      softTimeLimit: 20,
    });
    const before = Date.now();
    await add.applyAsync([1, 2], null, {
      countdown: 60,
      expires: 120,
      priority: 5,
      queue: 'other',
      headers: { 'x-custom': 'value' },
      taskId: 'c0000000-0000-4000-8000-000000000001',
      ignoreResult: true,
    });
    const { message } = await nextMessage(app, 'other');
    assert.equal(message.id, 'c0000000-0000-4000-8000-000000000001');
    assert.ok(
      message.eta !== null && message.eta >= before + 60_000 && message.eta < Date.now() + 60_001,
    );
    assert.ok(message.expires !== null && message.expires >= before + 120_000);
    assert.equal(message.priority, 5);
    assert.deepEqual(message.timeLimit, [30, 20]);
    assert.equal(message.ignoreResult, true);
    assert.deepEqual(message.extraHeaders, { 'x-custom': 'value' });
    await app.close();
  });

  test('taskRoutes sends a task to its queue by name or glob', async () => {
    const app = memoryApp({ taskRoutes: { 'tasks.*': { queue: 'routed' } } });
    const add = app.task((x: number, y: number) => x + y, { name: 'tasks.add' });
    await add.delay(1, 1);
    const { message } = await nextMessage(app, 'routed');
    assert.equal(message.task, 'tasks.add');
    await app.close();
  });

  test('arguments the serializer cannot carry fail the call and nothing is sent', async () => {
    const app = memoryApp();
    const echo = app.task((value: unknown) => value, { name: 'tasks.echo' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [() => 1, Symbol('s'), cyclic, Buffer.from('x')]) {
      await assert.rejects(
        echo.delay(bad),
        (error: unknown) => error instanceof EncodeError,
        String(typeof bad),
      );
    }
    assert.equal(await (await app.connection()).size('celery'), 0);
    await app.close();
  });

  test('a wrong number of arguments fails at call time (typing), with Python wording', async () => {
    const app = memoryApp();
    const add = app.task((x: number, y: number) => x + y, { name: 'tasks.add' });
    const loose = add as unknown as (...args: unknown[]) => unknown;
    assert.throws(
      () => loose(1),
      /tasks\.add\(\) missing 1 required positional argument\(s\): 'y'/,
    );
    await assert.rejects(
      add.applyAsync([1, 2, 3] as never),
      (e: unknown) =>
        e instanceof ArgumentsError &&
        /takes 2 positional argument\(s\) but 3 were given/.test(e.message),
    );
    await assert.rejects(add.applyAsync([], { x: 1, z: 2 }), /unexpected keyword argument 'z'/);
    assert.equal(await (await app.connection()).size('celery'), 0);
    await app.close();
  });

  test('eager mode runs in-process and returns a ready result', async () => {
    const app = memoryApp({ taskAlwaysEager: true });
    const add = app.task((x: number, y: number) => x + y, { name: 'tasks.add' });
    const res = await add.delay(20, 22);
    assert.equal(await res.get(), 42);
    assert.equal(await res.state(), 'SUCCESS');
    assert.equal(await (await app.connection()).size('celery'), 0);
    await app.close();
  });

  test('class-based tasks run with this.request and their hooks', async () => {
    const app = memoryApp();
    const seen: string[] = [];
    class Greet extends BaseTask<[name: string], string> {
      static override options = { name: 'tasks.greet' };
      run(name: string): string {
        return `hello ${name} from ${this.request.id === '' ? '?' : 'a task'}`;
      }
      override onSuccess(retval: string): void {
        seen.push(`success:${retval}`);
      }
      override afterReturn(status: string): void {
        seen.push(`after:${status}`);
      }
    }
    const greet = app.task(Greet);
    const res = await greet.apply(['you']);
    assert.equal(await res.get(), 'hello you from a task');
    assert.deepEqual(seen, ['success:hello you from a task', 'after:SUCCESS']);
  });

  test('bound tasks get their context; retry() past maxRetries rethrows the error', async () => {
    const app = memoryApp({ taskEagerPropagates: true });
    const task = app.task(
      (ctx: TaskContext) => {
        ctx.retry({ exc: new RangeError('gave up') });
      },
      { name: 'tasks.retrying', bind: true, maxRetries: 0 },
    );
    await assert.rejects(task.apply([]), /gave up/);
  });

  test('a Standard Schema validates arguments in the worker and at call time', async () => {
    const app = memoryApp();
    const positive: StandardSchemaV1<unknown, [number]> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) =>
          Array.isArray(value) && typeof value[0] === 'number' && value[0] > 0
            ? { value: value as [number] }
            : { issues: [{ message: 'must be a positive number', path: [0] }] },
      },
    };
    const sqrt = app.task((n: number) => Math.sqrt(n), { name: 'tasks.sqrt', schema: positive });
    assert.equal(await (await sqrt.apply([16])).get(), 4);
    await assert.rejects(
      (await sqrt.apply([-1])).get(),
      /tasks\.sqrt\(\) arguments are invalid: 0: must be a positive number/,
    );
  });

  test('two tasks with one name are refused', () => {
    const app = memoryApp();
    app.task((x: number) => x, { name: 'tasks.same' });
    assert.throws(() => app.task((x: number) => x, { name: 'tasks.same' }), /already registered/);
  });

  test('sendTask sends by name without a local definition; remoteTask types a foreign task', async () => {
    const app = memoryApp();
    await app.sendTask('tasks.elsewhere', [1], { k: 2 });
    const { message } = await nextMessage(app);
    assert.equal(message.task, 'tasks.elsewhere');
    assert.deepEqual(message.kwargs, { k: 2 });
    const py = app.remoteTask<[x: number], number>('py.task');
    assert.throws(() => py(1), /not defined in this process/);
    await app.close();
  });

  test('AsyncResult: PENDING for unknown ids, exists() tells stored from not stored', async () => {
    const app = memoryApp();
    const res = app.AsyncResult('00000000-0000-4000-8000-000000000000');
    assert.equal(await res.state(), 'PENDING');
    assert.equal(await res.exists(), false);
    await assert.rejects(res.get({ timeout: 0.05 }), /timed out waiting for task/);
    await app.close();
  });
});
