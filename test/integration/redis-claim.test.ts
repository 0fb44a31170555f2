/**
 * Claims are atomic and batched: consumers on separate connections compete for the same
 * queue and every message is delivered exactly once, none lost; an idle consumer sends
 * nothing to Redis until a message arrives; the BRPOP fallback works too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { contractMessage } from '../../src/transport/transport.contract.js';
import { createRedisTransport, type RedisTransport } from '../../src/transport/redis/index.js';
import { claim, reclaim } from '../../src/transport/redis/claim.js';
import { KeyLayout } from '../../src/transport/redis/keys.js';
import { CLAIM } from '../../src/transport/redis/scripts.js';
import type { Delivery } from '../../src/transport/types.js';
import { startRedis, type RedisServer } from '../support/servers.js';
import { until as pollUntil } from '../support/poll.js';

let server: RedisServer;
before(async () => {
  server = await startRedis();
});
after(() => server.stop());

const idOf = (d: Delivery): string => String(d.message.headers['id']);

/** Waits every 10 ms, for 20,000 ms unless told. */
const until = (check: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> =>
  pollUntil(check, what, ms, 10);

void describe('Redis claims', () => {
  void test('two competing consumers: 5,000 messages, each delivered exactly once, none lost', async () => {
    const queue = `claim.${Date.now()}`;
    const producer = createRedisTransport(server.url);
    const a = createRedisTransport(server.url);
    const b = createRedisTransport(server.url);
    await Promise.all([producer.connect(), a.connect(), b.connect()]);
    const seen = new Map<string, number>();
    const per = { a: 0, b: 0 };
    const handler = (who: 'a' | 'b') => (d: Delivery) => {
      per[who]++;
      seen.set(idOf(d), (seen.get(idOf(d)) ?? 0) + 1);
      // settle some at once and some a little later, as a worker does
      if (Math.random() < 0.5) void d.ack();
      else setTimeout(() => void d.ack(), Math.random() * 5);
    };
    const total = 5000;
    const ids = Array.from({ length: total }, (_, i) => `m${i}`);
    // half queued before the consumers start, half while they run
    await Promise.all(
      ids
        .slice(0, total / 2)
        .map((id) => producer.publish(contractMessage(id), { exchange: '', routingKey: queue })),
    );
    const ca = a.consume({ queues: [queue], prefetch: 40, onDelivery: handler('a') });
    const cb = b.consume({ queues: [queue], prefetch: 40, onDelivery: handler('b') });
    for (let i = total / 2; i < total; i += 100) {
      await Promise.all(
        ids
          .slice(i, i + 100)
          .map((id) => producer.publish(contractMessage(id), { exchange: '', routingKey: queue })),
      );
    }
    await until(() => seen.size === total, `${total} distinct deliveries (have ${seen.size})`);
    await new Promise((r) => setTimeout(r, 200));
    const dupes = [...seen].filter(([, n]) => n > 1);
    assert.deepEqual(dupes, [], 'no message delivered twice');
    assert.equal(per.a + per.b, total);
    assert.ok(per.a > 0 && per.b > 0, `both consumers got work (a ${per.a}, b ${per.b})`);
    await Promise.all([ca.close(), cb.close()]);
    const raw = new Redis(server.url);
    await until(async () => (await raw.hlen('unacked')) === 0, 'every ack written');
    assert.equal(await producer.size(queue), 0);
    raw.disconnect();
    await Promise.all([producer.close(), a.close(), b.close()]);
  });

  void test('a claim whose reply was lost: RECLAIM hands over exactly what it took, nothing for a claim that never ran', async () => {
    const queue = `lost.${Date.now()}`;
    const t = createRedisTransport(server.url);
    await t.connect();
    for (let i = 0; i < 3; i++)
      await t.publish(contractMessage(`l${i}`), { exchange: '', routingKey: queue });
    await t.close();
    const raw = new Redis(server.url);
    try {
      const layout = new KeyLayout({ db: 0 });
      const keys = [{ key: queue, queue }];
      const who = { consumer: `c-${Date.now()}`, id: '7', ttl: 60 };
      // The claim runs on the server; pretend its reply never reached the consumer.
      const took = await claim(raw, layout, keys, 10, [], undefined, who);
      assert.equal(took.length, 3);
      const back = await reclaim(raw, layout, keys, who);
      assert.deepEqual(
        back.map((c) => [c.raw, c.tag, c.source?.key, c.count]),
        took.map((c) => [c.raw, c.tag, queue, 0]),
        'the same envelopes, byte for byte, with their tags and source list',
      );
      // A RECLAIM whose reply was lost too can be repeated: the same messages again.
      assert.deepEqual(
        (await reclaim(raw, layout, keys, who)).map((c) => c.tag),
        took.map((c) => c.tag),
      );
      // A claim that never ran (another id): nothing.
      assert.deepEqual(await reclaim(raw, layout, keys, { ...who, id: '8' }), []);
      // What was acked since is not handed over again.
      await raw.hdel(layout.unacked, took[1]!.tag);
      // One restored and claimed again by someone else (its score is that claim's): theirs.
      await raw.zadd(
        layout.unackedIndex,
        Number(await raw.zscore(layout.unackedIndex, took[2]!.tag)) + 7,
        took[2]!.tag,
      );
      const left = await reclaim(raw, layout, keys, who);
      assert.deepEqual(
        left.map((c) => c.tag),
        [took[0]!.tag],
        'neither the acked one nor the one another worker holds now',
      );
      assert.ok((await raw.ttl(`celeriac.claim.${who.consumer}`)) > 0, 'the record expires');
      // Other files share this server: remove only what this test put there.
      const tags = took.map((c) => c.tag);
      await raw.hdel(layout.unacked, ...tags);
      await raw.zrem(layout.unackedIndex, ...tags);
      await raw.del(`celeriac.claim.${who.consumer}`);
    } finally {
      raw.disconnect();
    }
  });

  void test('one claim takes a whole batch of free slots in one round trip', async () => {
    const queue = `batch.${Date.now()}`;
    const t = createRedisTransport(server.url);
    await t.connect();
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        t.publish(contractMessage(`b${i}`), { exchange: '', routingKey: queue }),
      ),
    );
    const base = new Redis(server.url);
    const monitor = await base.monitor();
    const claims: number[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'evalsha' && args[1] === CLAIM.sha) claims.push(args.length);
    });
    const got: Delivery[] = [];
    let ackAtOnce = false;
    const c = t.consume({
      queues: [queue],
      prefetch: 100,
      onDelivery: (d) => {
        got.push(d);
        if (ackAtOnce) void d.ack();
      },
    });
    await until(() => got.length === 100, '100 deliveries');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(claims.length, 1, `${claims.length} claim calls for the first 100 messages`);
    ackAtOnce = true;
    for (const d of got) void d.ack();
    await until(() => got.length === 300, 'all 300');
    await Promise.all(got.map((d) => d.ack()));
    await c.close();
    await t.close();
    monitor.disconnect();
    base.disconnect();
  });

  void test('with prefetch above the claim size, the next claim leaves before a full batch runs', async () => {
    // claimBatch 10, prefetch 20: while the first batch is handed out, Redis already has the
    // second claim. The first delivery busy-waits 150 ms: a claim sent before the batch ran
    // reaches Redis during that wait, a claim sent after it only once the wait is over.
    const queue = `ahead.${Date.now()}`;
    const t = createRedisTransport(server.url, { claimBatch: 10 });
    await t.connect();
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        t.publish(contractMessage(`a${i}`), { exchange: '', routingKey: queue }),
      ),
    );
    const base = new Redis(server.url);
    const monitor = await base.monitor();
    const claimedAt: number[] = [];
    monitor.on('monitor', (time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'evalsha' && args[1] === CLAIM.sha)
        claimedAt.push(Number(time) * 1000);
    });
    const got: Delivery[] = [];
    let waitEnded = 0;
    const c = t.consume({
      queues: [queue],
      prefetch: 20,
      onDelivery: (d) => {
        got.push(d);
        if (got.length === 1) {
          const end = Date.now() + 150;
          while (Date.now() < end); // a task that holds the loop
          waitEnded = Date.now();
        }
      },
    });
    await until(() => got.length === 20, '20 deliveries (two claims)');
    await until(() => claimedAt.length >= 2, 'two claims seen by MONITOR');
    assert.ok(
      claimedAt[1]! < waitEnded,
      `the second claim reached Redis ${(claimedAt[1]! - waitEnded).toFixed(0)} ms after the first batch's first task ended: it was not sent ahead`,
    );
    for (const d of got) await d.ack();
    await until(() => got.length === 40, 'all 40');
    await Promise.all(got.map((d) => d.ack()));
    await c.close();
    await t.close();
    monitor.disconnect();
    base.disconnect();
  });

  void test('prefetch equal to the claim size: no claim goes ahead of the batch', async () => {
    const queue = `noahead.${Date.now()}`;
    const t = createRedisTransport(server.url, { claimBatch: 10 });
    await t.connect();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.publish(contractMessage(`n${i}`), { exchange: '', routingKey: queue }),
      ),
    );
    const base = new Redis(server.url);
    const monitor = await base.monitor();
    let claims = 0;
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'evalsha' && args[1] === CLAIM.sha) claims++;
    });
    const got: Delivery[] = [];
    const c = t.consume({ queues: [queue], prefetch: 10, onDelivery: (d) => void got.push(d) });
    await until(() => got.length === 10, 'the first batch');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(claims, 1, 'no slot is free while the batch is held, so no second claim');
    assert.equal(got.length, 10);
    for (const d of got.splice(0)) await d.ack();
    await until(() => got.length === 10, 'the second batch once slots are free');
    for (const d of got) await d.ack();
    await c.close();
    await t.close();
    monitor.disconnect();
    base.disconnect();
  });

  void test('an idle consumer sends nothing until a message arrives, then gets it at once', async () => {
    const queue = `idle.${Date.now()}`;
    const t = createRedisTransport(server.url);
    await t.connect();
    const got: Delivery[] = [];
    const c = t.consume({ queues: [queue], prefetch: 5, onDelivery: (d) => got.push(d) });
    const raw = new Redis(server.url);
    await new Promise((r) => setTimeout(r, 300)); // armed and asleep
    await raw.config('RESETSTAT');
    await new Promise((r) => setTimeout(r, 1500));
    const stats = await raw.info('commandstats');
    const busy = [...stats.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)].filter(
      ([, name]) => !/^(info|config)/.test(name!),
    );
    assert.deepEqual(
      busy.map(([, name, n]) => `${name}=${n}`),
      [],
      'no commands while idle',
    );
    await t.publish(contractMessage('wake'), { exchange: '', routingKey: queue });
    await until(() => got.length === 1, 'the wake-up', 2000);
    assert.equal(c.wakeMode, 'tracking');
    assert.equal(c.isHealthy(), true);
    await got[0]!.ack();
    await c.close();
    assert.equal(c.isHealthy(), false, 'a closed consumer is not healthy');
    await t.close();
    raw.disconnect();
  });

  void test('an idle consumer hears of pushes to its lists only: not of results stored under the queue name, nor of its own claims', async () => {
    const queue = `meta${Date.now()}`;
    const t: RedisTransport = createRedisTransport(server.url);
    await t.connect();
    const got: Delivery[] = [];
    const c = t.consume({ queues: [queue], prefetch: 5, onDelivery: (d) => got.push(d) });
    const raw = new Redis(server.url);
    const claims = async (): Promise<number> =>
      Number(/cmdstat_evalsha:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0);
    const sentBytes = async (): Promise<number> =>
      Number(/total_net_output_bytes:(\d+)/.exec(await raw.info('stats'))?.[1]);
    await new Promise((r) => setTimeout(r, 300)); // armed and asleep
    await raw.config('RESETSTAT');
    // Results of a busy cluster, under keys that start with the queue's name (as
    // celery-task-meta-* do for the queue "celery"): Redis must not tell our waker of them.
    const bytesFor = async (prefix: string): Promise<number> => {
      const before = await sentBytes();
      const sets = raw.pipeline();
      for (let i = 0; i < 200; i++) sets.set(`${prefix}-task-meta-${i}`, 'x'.repeat(40));
      await sets.exec();
      await new Promise((r) => setTimeout(r, 200));
      return (await sentBytes()) - before;
    };
    const baseline = await bytesFor(`other.${queue}`); // the replies to us, and INFO's
    const sent = await bytesFor(queue);
    // Invalidations for these keys would add ~7 kB, even batched.
    assert.ok(sent < baseline + 1500, `Redis sent ${sent} bytes (${baseline} for other keys)`);
    assert.equal(await claims(), 0, 'no claim for unrelated writes');

    await t.publish(contractMessage('one'), { exchange: '', routingKey: queue });
    await until(() => got.length === 1, 'the wake-up', 2000);
    await got[0]!.ack();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await claims(), 1, 'one claim for one push: our own pop wakes no one');
    assert.equal(await raw.hlen('unacked'), 0, 'the ack went out on its own');
    // ... and the consumer still hears of the next push.
    await t.publish(contractMessage('two'), { exchange: '', routingKey: queue });
    await until(() => got.length === 2, 'the second wake-up', 2000);
    await got[1]!.ack();
    await c.close();
    await t.close();
    raw.disconnect();
  });

  void test('acks of an idle consumer: a late ack waits for the next claim to carry it, an early ack goes at once', async () => {
    const queue = `acks.${Date.now()}`;
    // A 10 s delay: an ack written within a few seconds was not waiting for the timer.
    const t: RedisTransport = createRedisTransport(server.url, { ackDelay: 10 });
    await t.connect();
    const raw = new Redis(server.url);
    const got: Delivery[] = [];
    // prefetch 2, one message at a time: after each claim the consumer is idle, waiting for a
    // push, so a freed slot alone sends no claim.
    const c = t.consume({ queues: [queue], prefetch: 2, onDelivery: (d) => got.push(d) });
    const publish = (id: string): Promise<void> =>
      t.publish(contractMessage(id), { exchange: '', routingKey: queue });
    const settled = (p: Promise<void>): { done: boolean } => {
      const state = { done: false };
      void p.then(() => (state.done = true));
      return state;
    };

    await new Promise((r) => setTimeout(r, 300)); // armed and asleep
    // Early ack (the task has not finished, it waits for the ack): written at once.
    await publish('early');
    await until(() => got.length === 1, 'the first delivery', 5000);
    const early = settled(got[0]!.ack());
    await until(() => early.done, 'the early ack', 3000);
    assert.equal(await raw.hexists('unacked', got[0]!.deliveryTag), 0);

    // Late ack (its task finished): it waits for the next claim, which carries it.
    await publish('late');
    await until(() => got.length === 2, 'the second delivery', 5000);
    got[1]!.finished?.();
    const late = settled(got[1]!.ack());
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(late.done, false, 'waits for a claim to carry it');
    assert.equal(await raw.hexists('unacked', got[1]!.deliveryTag), 1);
    await publish('carrier');
    await until(() => late.done, 'the ack carried by the next claim', 3000);
    assert.equal(await raw.hexists('unacked', got[1]!.deliveryTag), 0);
    await until(() => got.length === 3, 'the carrier', 3000);
    await got[2]!.ack();
    await c.close();
    await t.close();
    raw.disconnect();
  });

  void test("wakeMode 'brpop' (servers without CLIENT TRACKING): kombu's BRPOP, claimed at once", async () => {
    const queue = `brpop.${Date.now()}`;
    const t: RedisTransport = createRedisTransport(server.url, { wakeMode: 'brpop' });
    await t.connect();
    const got: Delivery[] = [];
    const c = t.consume({ queues: [queue], prefetch: 5, onDelivery: (d) => got.push(d) });
    await new Promise((r) => setTimeout(r, 100));
    for (const p of [9, 0, 3])
      await t.publish(
        contractMessage(`p${p}`),
        { exchange: '', routingKey: queue },
        { priority: p },
      );
    await until(() => got.length === 3, '3 deliveries', 5000);
    assert.equal(c.wakeMode, 'brpop');
    const raw = new Redis(server.url);
    for (const d of got)
      assert.ok(await raw.hexists('unacked', d.deliveryTag), 'recorded in unacked like any claim');
    await Promise.all(got.map((d) => d.ack()));
    await c.close();
    assert.equal(await t.size(queue), 0, 'nothing left behind by the BRPOP in flight at close');
    await t.close();
    raw.disconnect();
  });
});
