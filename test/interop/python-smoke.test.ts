/**
 * Smoke test of the Python peer: a Python Celery client and worker (test/interop/py) round-trip
 * tasks through the test Redis, and failures come back as Python raised them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRabbitMQ, startRedis } from '../support/servers.js';
import type { RabbitMQServer, RedisServer } from '../support/servers.js';
import { openPyDriver, pythonAvailable, runPyDriver, startPyWorker } from '../support/python.js';
import type { PyWorker } from '../support/python.js';

interface GetOutput {
  state: string;
  result: unknown;
  exc_type: string | null;
  exc_message: string | null;
  traceback: string | null;
}

// Outside CI a machine without Debian's Celery skips this file; in CI it must fail instead.
const skip = !process.env.CI && !pythonAvailable() ? '/usr/bin/python3 lacks celery' : false;

void describe('Python Celery peer (pyapp + pydriver)', { skip }, () => {
  const queue = `smoke-${process.pid}`;
  let redis: RedisServer;
  let worker: PyWorker;
  let env: { brokerUrl: string };

  before(async () => {
    redis = await startRedis({ db: 1, flush: true });
    env = { brokerUrl: redis.url };
    worker = await startPyWorker({ ...env, queues: [queue], concurrency: 1 });
  });

  after(async () => {
    await worker?.stop();
    await redis?.stop();
  });

  void test('tasks.add(2, 3) == 5 through a Python worker', async () => {
    const sent = (await runPyDriver(
      ['send', 'tasks.add', '--args', '[2, 3]', '--queue', queue],
      env,
    )) as {
      id: string;
    };
    assert.match(sent.id, /^[0-9a-f-]{36}$/);
    const got = (await runPyDriver(['get', sent.id, '--timeout', '30'], env)) as GetOutput;
    assert.equal(got.state, 'SUCCESS', worker.output());
    assert.equal(got.result, 5);
    assert.equal(got.exc_type, null);
  });

  void test('tasks.fail reports ValueError with its message and traceback', async () => {
    const sent = (await runPyDriver(
      ['send', 'tasks.fail', '--args', '["boom"]', '--queue', queue],
      env,
    )) as {
      id: string;
    };
    const got = (await runPyDriver(['get', sent.id, '--timeout', '30'], env)) as GetOutput;
    assert.equal(got.state, 'FAILURE', worker.output());
    assert.equal(got.exc_type, 'ValueError');
    assert.equal(got.exc_message, 'boom');
    assert.match(got.traceback ?? '', /raise ValueError\(msg\)/);
  });

  void test('the worker answers inspect registered with exactly the tasks.* names', async () => {
    const replies = (await runPyDriver(
      ['inspect', 'registered', '--timeout', '5', '--limit', '1', '--destination', worker.hostname],
      env,
    )) as Record<string, string[]>;
    const mine = replies[worker.hostname] ?? [];
    for (const name of [
      'tasks.add',
      'tasks.mul',
      'tasks.xsum',
      'tasks.echo',
      'tasks.fail',
      'tasks.fail_custom',
      'tasks.retry_once',
      'tasks.on_error',
      'tasks.sleep',
      'tasks.reject',
      'tasks.noresult',
    ]) {
      assert.ok(mine.includes(name), `${name} registered (got ${JSON.stringify(replies)})`);
    }
  });

  void test('a pydriver session runs several commands in one Python process', async () => {
    const session = openPyDriver(env);
    try {
      const sent = (await session.run([
        'send',
        'tasks.mul',
        '--args',
        '[3, 4]',
        '--queue',
        queue,
      ])) as {
        id: string;
      };
      await assert.rejects(session.run(['no-such-command']), /invalid choice/);
      const got = (await session.run(['get', sent.id, '--timeout', '30'])) as GetOutput;
      assert.equal(got.state, 'SUCCESS', worker.output());
      assert.equal(got.result, 12);
    } finally {
      await session.close();
    }
  });
});

void describe('Python Celery peer on RabbitMQ (broker) + Redis (results)', { skip }, () => {
  const queue = `smoke-amqp-${process.pid}`;
  let redis: RedisServer;
  let broker: RabbitMQServer;
  let worker: PyWorker;
  let env: { brokerUrl: string; backendUrl: string };

  before(async () => {
    [redis, broker] = await Promise.all([startRedis({ db: 2, flush: true }), startRabbitMQ()]);
    env = { brokerUrl: broker.url, backendUrl: redis.url };
    worker = await startPyWorker({ ...env, queues: [queue] });
  });

  after(async () => {
    await worker?.stop();
    await broker?.stop();
    await redis?.stop();
  });

  void test('tasks.xsum([1, 2, 3]) == 6 through the broker from startRabbitMQ()', async () => {
    const session = openPyDriver(env);
    try {
      const sent = (await session.run([
        'send',
        'tasks.xsum',
        '--args',
        '[[1, 2, 3]]',
        '--queue',
        queue,
      ])) as {
        id: string;
      };
      const got = (await session.run(['get', sent.id, '--timeout', '30'])) as GetOutput;
      assert.equal(got.state, 'SUCCESS', worker.output());
      assert.equal(got.result, 6);
    } finally {
      await session.close();
    }
  });
});
