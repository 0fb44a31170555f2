/**
 * The Redis transport and result backend with real Python Celery 5.2.6 on the other side:
 * a Python worker runs what we publish and we read its result; we consume what a Python
 * client sends and its AsyncResult.get() wakes on our store; a Python worker restores a
 * message our consumer held past the visibility timeout.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { contractMeta } from '../../src/backend/backend.contract.js';
import { createRedisBackend, type RedisBackend } from '../../src/backend/redis.js';
import { encodeTaskMessage, newTaskMessage } from '../../src/protocol/task-message.js';
import { createRedisTransport, type RedisTransport } from '../../src/transport/redis/index.js';
import type { Delivery } from '../../src/transport/types.js';
import {
  openPyDriver,
  pythonAvailable,
  startPyWorker,
  type PyDriverSession,
} from '../support/python.js';
import { startRedis, type RedisServer } from '../support/servers.js';

const skip = !process.env.CI && !pythonAvailable() ? '/usr/bin/python3 lacks celery' : false;

void describe('Redis interop with Python Celery', { skip }, () => {
  let server: RedisServer;
  let transport: RedisTransport;
  let backend: RedisBackend;
  let driver: PyDriverSession;

  before(async () => {
    server = await startRedis({ private: true, appendonly: false });
    transport = createRedisTransport(server.url);
    backend = createRedisBackend(server.url);
    await Promise.all([transport.connect(), backend.connect()]);
    driver = openPyDriver({ brokerUrl: server.url });
  });
  after(async () => {
    await driver?.close();
    await transport?.close();
    await backend?.close();
    await server?.stop();
  });

  void test('a Python worker runs what we publish (with priorities); our waitFor gets its result', async () => {
    const queue = 'py-runs-ours';
    const worker = await startPyWorker({ brokerUrl: server.url, queues: [queue], concurrency: 1 });
    try {
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      await transport.declare({ name: queue });
      for (const [i, id] of ids.entries()) {
        const message = encodeTaskMessage(newTaskMessage({ id, task: 'tasks.add', args: [i, 40] }));
        await transport.publish(
          message,
          { exchange: '', routingKey: queue },
          { priority: [9, 0, 5][i] },
        );
      }
      for (const [i, id] of ids.entries()) {
        const meta = await backend.waitFor(id, { timeout: 30_000 });
        assert.equal(meta.status, 'SUCCESS', worker.output());
        assert.equal(meta.result, i + 40);
      }
    } finally {
      await worker.stop();
    }
  });

  void test('we consume what a Python client sends; its AsyncResult.get() wakes on our store', async () => {
    const queue = 'we-run-python';
    const sent = (await driver.run([
      'send',
      'tasks.add',
      '--args',
      '[20, 22]',
      '--queue',
      queue,
    ])) as { id: string };
    const delivery = await new Promise<Delivery>((resolve) => {
      const c = transport.consume({
        queues: [queue],
        prefetch: 1,
        onDelivery: (d) => void c.close().then(() => resolve(d)),
      });
    });
    assert.equal(delivery.message.headers['id'], sent.id);
    assert.equal(delivery.message.headers['task'], 'tasks.add');
    assert.deepEqual(JSON.parse(delivery.message.body.toString('utf8'))[0], [20, 22]);
    const getting = driver.run(['get', sent.id, '--timeout', '20']);
    await new Promise((r) => setTimeout(r, 500)); // the Python client is blocked in get()
    await backend.store(contractMeta(sent.id, 'SUCCESS', 42));
    await delivery.ack();
    const got = (await getting) as { state: string; result: unknown };
    assert.deepEqual([got.state, got.result], ['SUCCESS', 42]);
  });

  void test('a Python worker restores and runs a message our consumer held past the visibility timeout', async () => {
    const queue = 'py-restores-ours';
    const id = randomUUID();
    const holder = createRedisTransport(server.url, {
      visibilityTimeout: 1,
      touchInterval: 3600,
      restoreInterval: 3600,
    });
    await holder.connect();
    await transport.publish(
      encodeTaskMessage(newTaskMessage({ id, task: 'tasks.add', args: [1, 1] })),
      {
        exchange: '',
        routingKey: queue,
      },
    );
    const held = await new Promise<Delivery>((resolve) => {
      const c = holder.consume({
        queues: [queue],
        prefetch: 1,
        onDelivery: (d) => void c.close().then(() => resolve(d)),
      });
    });
    assert.equal(held.message.headers['id'], id);
    await new Promise((r) => setTimeout(r, 1500));
    const worker = await startPyWorker({
      brokerUrl: server.url,
      queues: [queue],
      concurrency: 1,
      conf: { broker_transport_options: { visibility_timeout: 1 } },
    });
    try {
      const meta = await backend.waitFor(id, { timeout: 30_000 });
      assert.equal(meta.status, 'SUCCESS', worker.output());
      assert.equal(meta.result, 2);
    } finally {
      await worker.stop();
      await held.ack();
      await holder.close();
    }
  });
});
