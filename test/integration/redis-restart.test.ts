/**
 * Redis goes away and comes back (AOF on): consumers resume by themselves, result waiters
 * still get their results, fanout subscriptions still hear broadcasts, queued messages survive; a consumer whose Redis stops answering
 * reports itself unhealthy, and healthy again once it answers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { createRedisBackend } from '../../src/backend/redis.js';
import { contractMeta } from '../../src/backend/backend.contract.js';
import { contractMessage } from '../../src/transport/transport.contract.js';
import { createRedisTransport } from '../../src/transport/redis/index.js';
import type { Delivery } from '../../src/transport/types.js';
import { startRedis } from '../support/servers.js';
import { until as pollUntil } from '../support/poll.js';

/** Waits every 20 ms, for 20,000 ms unless told. */
const until = (check: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> =>
  pollUntil(check, what, ms, 20);

void describe('Redis restarts', () => {
  void test('a consumer survives a redis-server restart and keeps consuming; queued messages and waiters survive', async () => {
    const server = await startRedis({ private: true, appendonly: true });
    const errors: Error[] = [];
    const producer = createRedisTransport(server.url);
    const worker = createRedisTransport(server.url, { idleRecheckInterval: 1 });
    const backend = createRedisBackend(server.url);
    const waiterSide = createRedisBackend(server.url);
    try {
      await Promise.all([
        producer.connect(),
        worker.connect(),
        backend.connect(),
        waiterSide.connect(),
      ]);
      const got: string[] = [];
      const consumer = worker.consume({
        queues: ['work'],
        prefetch: 10,
        onDelivery: (d: Delivery) => {
          got.push(String(d.message.headers['id']));
          void d.ack();
        },
        onError: (e) => errors.push(e),
      });
      for (let i = 0; i < 20; i++)
        await producer.publish(contractMessage(`before${i}`), { exchange: '', routingKey: 'work' });
      await until(() => got.length === 20, '20 deliveries before the restart');
      for (let i = 0; i < 5; i++)
        await producer.publish(contractMessage(`kept${i}`), { exchange: '', routingKey: 'kept' });
      const waiting = waiterSide.waitFor('after-restart', { timeout: 20_000 });
      const events: string[] = [];
      const sub = await worker.subscribe('celeryev', 'worker.#', (m) =>
        events.push(String(m.headers['id'])),
      );
      await new Promise((r) => setTimeout(r, 100));

      await server.restart!();

      for (let i = 0; i < 20; i++)
        await producer.publish(contractMessage(`after${i}`), { exchange: '', routingKey: 'work' });
      await until(
        () => got.length === 40,
        `the 20 deliveries after the restart (have ${got.length - 20})`,
      );
      assert.deepEqual(
        got.slice(20),
        Array.from({ length: 20 }, (_, i) => `after${i}`),
      );
      await until(() => consumer.isHealthy(), 'the consumer to report healthy again');

      await until(async () => {
        await producer.broadcast('celeryev', 'worker.heartbeat', contractMessage('beat'));
        return events.length > 0;
      }, 'a broadcast to reach the subscription made before the restart');
      await sub.close();

      await backend.store(contractMeta('after-restart', 'SUCCESS', 'still here'));
      assert.equal(
        (await waiting).result,
        'still here',
        'a waiter from before the restart gets its result',
      );
      assert.equal(
        await producer.size('kept'),
        5,
        'messages queued before the restart are still there (AOF)',
      );
      assert.ok(errors.length > 0, 'the outage was reported to onError');
      await consumer.close();
    } finally {
      await Promise.all([producer.close(), worker.close(), backend.close(), waiterSide.close()]);
      await server.stop();
    }
  });

  void test('a consumer whose Redis stops answering turns unhealthy, then healthy again', async () => {
    const server = await startRedis({ private: true, appendonly: false });
    const t = createRedisTransport(server.url, { idleRecheckInterval: 0.2 });
    const admin = new Redis(server.url);
    try {
      await t.connect();
      const got: string[] = [];
      const consumer = t.consume({
        queues: ['q'],
        prefetch: 2,
        onDelivery: (d) => {
          got.push(String(d.message.headers['id']));
          void d.ack();
        },
      });
      await until(() => consumer.isHealthy(), 'healthy at start');
      await admin.call('CLIENT', 'PAUSE', '2500', 'ALL');
      await until(() => !consumer.isHealthy(), 'unhealthy while Redis does not answer', 5000);
      await until(() => consumer.isHealthy(), 'healthy once Redis answers again', 10_000);
      await t.publish(contractMessage('x'), { exchange: '', routingKey: 'q' });
      await until(() => got.length === 1, 'a delivery after the pause');
      await consumer.close();
    } finally {
      admin.disconnect();
      await t.close();
      await server.stop();
    }
  });
});
