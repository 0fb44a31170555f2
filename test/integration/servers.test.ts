/**
 * Smoke test of test/support/servers.ts: the launchers give real, reachable servers, private
 * ones are restartable and gone after stop(), and the shared ones are handed out as such.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import {
  startRabbitMQ,
  startRedis,
  SHARED_AMQP_ENV,
  SHARED_REDIS_ENV,
} from '../support/servers.js';
import { amqpAnswers, redisPings } from '../support/net.js';

async function withClient<T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

void describe('startRedis', () => {
  void test('gives a server that answers PING and stores data, on loopback', async () => {
    const server = await startRedis();
    try {
      assert.match(server.url, /^redis:\/\/127\.0\.0\.1:\d+\/0$/);
      await withClient(server.url, async (r) => {
        assert.equal(await r.ping(), 'PONG');
        await r.set('celeriac:smoke', 'v1');
        assert.equal(await r.get('celeriac:smoke'), 'v1');
        await r.del('celeriac:smoke');
      });
    } finally {
      await server.stop();
    }
  });

  void test('hands out the server named by CELERIAC_TEST_REDIS_URL, unless asked for a private one', async () => {
    const saved = process.env[SHARED_REDIS_ENV];
    const backing = await startRedis({ private: true });
    process.env[SHARED_REDIS_ENV] = `redis://127.0.0.1:${backing.port}`;
    try {
      const a = await startRedis({ db: 3 });
      assert.equal(a.shared, true);
      assert.equal(a.port, backing.port);
      assert.equal(a.url, `redis://127.0.0.1:${backing.port}/3`);
      await withClient(a.url, (r) => r.set('celeriac:smoke:flush', '1'));
      await a.stop();
      assert.equal(await redisPings(backing.port), true, 'stop() leaves the shared server running');

      const b = await startRedis({ db: 3, flush: true });
      await withClient(b.url, async (r) => assert.equal(await r.exists('celeriac:smoke:flush'), 0));

      const c = await startRedis({ private: true });
      assert.equal(c.shared, false);
      assert.notEqual(c.port, backing.port);
      await c.stop();
    } finally {
      if (saved === undefined) delete process.env[SHARED_REDIS_ENV];
      else process.env[SHARED_REDIS_ENV] = saved;
      await backing.stop();
    }
  });

  void test('a private server keeps its data across restart() (AOF) and is gone after stop()', async () => {
    const server = await startRedis({ private: true });
    assert.equal(server.shared, false);
    assert.ok(server.restart, 'a private server can restart');
    try {
      await withClient(server.url, (r) => r.rpush('celeriac:smoke:list', 'a', 'b'));
      await server.restart();
      assert.equal(await redisPings(server.port), true);
      await withClient(server.url, async (r) =>
        assert.deepEqual(await r.lrange('celeriac:smoke:list', 0, -1), ['a', 'b']),
      );
    } finally {
      await server.stop();
    }
    assert.equal(await redisPings(server.port), false, 'nothing answers after stop()');
    await server.stop(); // idempotent
  });
});

void describe('startRabbitMQ', () => {
  void test('gives a broker that speaks AMQP 0-9-1 on loopback', async () => {
    const broker = await startRabbitMQ();
    try {
      assert.match(broker.url, /^amqp:\/\/guest:guest@127\.0\.0\.1:\d+\/\/$/);
      assert.equal(broker.shared, Boolean(process.env[SHARED_AMQP_ENV]));
      assert.equal(await amqpAnswers(broker.port), true);
    } finally {
      await broker.stop();
    }
  });
});
