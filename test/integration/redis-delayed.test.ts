/**
 * Deferred (ETA) messages wait in celeriac's due-time store, not in `unacked`, so a
 * visibility timeout much shorter than the wait does not duplicate them: with two workers,
 * each restoring stale messages every 250 ms, every message is delivered exactly once, not
 * before it is due and promptly after.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { WireMessage } from '../../src/protocol/types.js';
import { contractMessage } from '../../src/transport/transport.contract.js';
import { createRedisTransport } from '../../src/transport/redis/index.js';
import type { Delivery } from '../../src/transport/types.js';
import { startRedis, type RedisServer } from '../support/servers.js';

let server: RedisServer;
before(async () => {
  server = await startRedis();
});
after(() => server.stop());

function dueMessage(id: string, dueAt: number): WireMessage {
  const m = contractMessage(id);
  m.headers['x-due'] = dueAt;
  return m;
}

void describe('Redis delayed delivery', () => {
  void test('ETAs longer than the visibility timeout are delivered exactly once, on time', async () => {
    const queue = `eta.${Date.now()}`;
    const options = { visibilityTimeout: 1, restoreInterval: 0.25, delayedSweepInterval: 0.5 };
    const producer = createRedisTransport(server.url);
    const workers = [
      createRedisTransport(server.url, options),
      createRedisTransport(server.url, options),
    ];
    await Promise.all([producer.connect(), ...workers.map((w) => w.connect())]);
    const runs = new Map<string, Array<{ at: number; redelivered: boolean }>>();
    let deferrals = 0;
    const onDelivery = (d: Delivery): void => {
      const due = Number(d.message.headers['x-due']);
      if (due > Date.now()) {
        deferrals++;
        void d.defer(due);
        return;
      }
      const id = String(d.message.headers['id']);
      runs.set(id, [...(runs.get(id) ?? []), { at: Date.now(), redelivered: d.redelivered }]);
      void d.ack();
    };
    const consumers = workers.map((w) => w.consume({ queues: [queue], prefetch: 10, onDelivery }));
    const start = Date.now();
    const due = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const at = start + (i % 2 === 0 ? 2500 : 600) + i * 10;
      due.set(`e${i}`, at);
      await producer.publish(dueMessage(`e${i}`, at), { exchange: '', routingKey: queue });
    }
    const deadline = start + 8000;
    while (runs.size < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1500)); // long enough for a restore pass to duplicate anything
    assert.equal(runs.size, 40, `delivered ${runs.size} of 40`);
    for (const [id, list] of runs) {
      assert.equal(list.length, 1, `${id} ran ${list.length} times`);
      const late = list[0]!.at - due.get(id)!;
      assert.ok(late >= 0, `${id} ran ${-late} ms early`);
      assert.ok(late < 1500, `${id} ran ${late} ms after it was due`);
      assert.equal(list[0]!.redelivered, false, `${id} was never restored`);
    }
    assert.ok(deferrals >= 40, `each message was deferred (${deferrals})`);
    const raw = new Redis(server.url);
    assert.equal(await raw.zcard('celeriac.delayed'), 0);
    assert.equal(await raw.hlen('celeriac.delayed.messages'), 0);
    raw.disconnect();
    await Promise.all(consumers.map((c) => c.close()));
    await Promise.all([producer.close(), ...workers.map((w) => w.close())]);
  });

  void test('a deferred message whose process went away is promoted by another worker', async () => {
    const queue = `orphan.${Date.now()}`;
    const first = createRedisTransport(server.url);
    await first.connect();
    await first.publish(contractMessage('orphan'), { exchange: '', routingKey: queue });
    const held: Delivery[] = [];
    const c1 = first.consume({ queues: [queue], prefetch: 1, onDelivery: (d) => held.push(d) });
    while (held.length === 0) await new Promise((r) => setTimeout(r, 10));
    const dueAt = Date.now() + 300;
    await held[0]!.defer(dueAt);
    await c1.close();
    await first.close(); // its promotion timer goes with it
    const second = createRedisTransport(server.url, { delayedSweepInterval: 0.2 });
    await second.connect();
    const got: Delivery[] = [];
    const c2 = second.consume({ queues: [queue], prefetch: 1, onDelivery: (d) => got.push(d) });
    const deadline = Date.now() + 5000;
    while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(got.length, 1);
    assert.ok(Date.now() >= dueAt);
    assert.equal(got[0]!.message.headers['id'], 'orphan');
    assert.equal(got[0]!.redelivered, false, 'a deferral is not a redelivery');
    await got[0]!.ack();
    await c2.close();
    await second.close();
  });
});
