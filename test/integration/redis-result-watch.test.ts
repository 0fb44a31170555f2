/**
 * Waiting for results on a real Redis, on both protocols the waiting connection may speak:
 * RESP3 (Redis ≥ 6: the GET rides behind the SUBSCRIBE in one write) and RESP2 (older
 * servers: SUBSCRIBE, then a GET on the main connection). Either way a result stored at any
 * moment around the subscription is found, and a finished waiter's channel is unsubscribed
 * with the next write, or alone within UNSUBSCRIBE_DELAY_MS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { contractMeta } from '../../src/backend/backend.contract.js';
import { UNSUBSCRIBE_DELAY_MS } from '../../src/backend/redis/subscriber.js';
import { ResultWatch } from '../../src/backend/redis/watch.js';
import { encodeMetaString } from '../../src/protocol/result-meta.js';
import type { TaskMeta } from '../../src/protocol/types.js';
import { RedisConnector } from '../../src/transport/redis/connection.js';
import { parseRedisUrl } from '../../src/transport/redis/url.js';
import { startRedis, type RedisServer } from '../support/servers.js';

let server: RedisServer;
before(async () => {
  server = await startRedis();
});
after(() => server.stop());

/** A connector whose clients speak `protocol` (ioredis asks for RESP3 by default). */
class ProtocolConnector extends RedisConnector {
  constructor(
    url: string,
    private readonly protocol: 2 | 3,
  ) {
    super(parseRedisUrl(url, {}, 'resultBackend'), 'backend', 5, 'watch-test');
  }

  override create(purpose: string, extra: RedisOptions = {}, onError?: (e: Error) => void): Redis {
    return super.create(purpose, { ...extra, protocol: this.protocol }, onError);
  }
}

/** A meta as the worker stores it (SUCCESS unless told). */
function meta(taskId: string, result: unknown, status: TaskMeta['status'] = 'SUCCESS'): TaskMeta {
  return contractMeta(taskId, status, result);
}

async function numsub(raw: Redis, channel: string): Promise<number> {
  const reply = (await raw.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
  return Number(reply[1]);
}

for (const protocol of [3, 2] as const) {
  void describe(`result watch on RESP${protocol}`, () => {
    const errors: Error[] = [];
    let raw: Redis;
    let main: Redis;
    let watch: ResultWatch;

    before(async () => {
      const connector = new ProtocolConnector(server.url, protocol);
      raw = new Redis(server.url);
      main = connector.create('main', { enableAutoPipelining: true }, (e) => errors.push(e));
      await connector.open(main);
      watch = new ResultWatch(connector, main, (e) => errors.push(e));
    });
    after(async () => {
      await watch.close();
      main.disconnect();
      raw.disconnect();
    });

    void test('a result stored before the wait is read; one stored during it is published', async () => {
      await raw.set('celery-task-meta-before', encodeMetaString(meta('before', 1)));
      assert.equal((await watch.waitFor('before', { timeout: 5000 })).result, 1);

      const waiting = watch.waitFor('during', { timeout: 5000 });
      await sleep(20);
      await raw.publish('celery-task-meta-during', encodeMetaString(meta('during', 2)));
      assert.equal((await waiting).result, 2);
      assert.deepEqual(errors, []);
    });

    void test('a store racing the subscription is never missed', async () => {
      // The store lands at every point around the subscription: before its write, between
      // the SUBSCRIBE and the read, after both. Each wait must end with the value.
      for (let i = 0; i < 200; i++) {
        const id = `race-${protocol}-${i}`;
        const waiting = watch.waitFor(id, { timeout: 5000 });
        const value = encodeMetaString(meta(id, i));
        if (i % 3 === 1) await new Promise((r) => setImmediate(r));
        if (i % 3 === 2) await sleep(1);
        // Celery's store: SETEX then PUBLISH, one atomic step.
        await raw
          .multi()
          .setex(`celery-task-meta-${id}`, 60, value)
          .publish(`celery-task-meta-${id}`, value)
          .exec();
        assert.equal((await waiting).result, i, id);
      }
    });

    void test('a pending state read at subscription does not end the wait', async () => {
      await raw.set('celery-task-meta-pending', encodeMetaString(meta('pending', null, 'STARTED')));
      const waiting = watch.waitFor('pending', { timeout: 5000 });
      await sleep(30);
      const done = encodeMetaString(meta('pending', 'ok'));
      await raw
        .multi()
        .set('celery-task-meta-pending', done)
        .publish('celery-task-meta-pending', done)
        .exec();
      const got = await waiting;
      assert.equal(got.status, 'SUCCESS');
      assert.equal(got.result, 'ok');
    });

    void test('a finished wait unsubscribes within UNSUBSCRIBE_DELAY_MS; a timeout rejects and unsubscribes', async () => {
      await raw.set('celery-task-meta-unsub', encodeMetaString(meta('unsub', 3)));
      await watch.waitFor('unsub', { timeout: 5000 });
      assert.equal(await numsub(raw, 'celery-task-meta-unsub'), 1, 'still subscribed right after');
      await sleep(UNSUBSCRIBE_DELAY_MS + 200);
      assert.equal(await numsub(raw, 'celery-task-meta-unsub'), 0);

      await assert.rejects(watch.waitFor('never', { timeout: 50 }), { name: 'TimeoutError' });
      await sleep(UNSUBSCRIBE_DELAY_MS + 200);
      assert.equal(await numsub(raw, 'celery-task-meta-never'), 0);
    });

    void test('an aborted wait rejects with its reason', async () => {
      const controller = new AbortController();
      const waiting = watch.waitFor('aborted', { signal: controller.signal });
      controller.abort(new Error('stop waiting'));
      await assert.rejects(waiting, /stop waiting/);
    });
  });
}
