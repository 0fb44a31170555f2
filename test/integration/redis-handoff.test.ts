/**
 * Hand-off (transport/redis/handoff.ts): an idle consumer of one queue blocks in BLMOVE and is
 * handed its next message; the message is recorded in `unacked` before anything settles it,
 * the hand-off list is left empty, and lists left behind (a consumer that died, one that
 * closed with a message in its list) go back to their queues. Against a real Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { contractMessage } from '../../src/transport/transport.contract.js';
import { createRedisTransport, type RedisTransport } from '../../src/transport/redis/index.js';
import type { Consumer, Delivery } from '../../src/transport/types.js';
import { startRedis, type RedisServer } from '../support/servers.js';
import { until } from '../support/poll.js';

let server: RedisServer;
let raw: Redis;
before(async () => {
  server = await startRedis();
  raw = new Redis(server.url);
});
after(async () => {
  raw.disconnect();
  await server.stop();
});

const REGISTRY = 'celeriac.handoffs';
/** Hand-off is off by default (experimental). */
const HAND_OFF = { handOff: true };

/** The hand-off lists registered now, as [list, queue key]. */
async function registered(): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for (const m of await raw.zrange(REGISTRY, '0', '-1')) {
    try {
      out.push(JSON.parse(m) as [string, string]);
    } catch {
      // an unreadable entry (the restore test writes one)
    }
  }
  return out;
}

function publish(t: RedisTransport, id: string, queue: string, priority?: number): Promise<void> {
  return t.publish(contractMessage(id), { exchange: '', routingKey: queue }, { priority });
}

/** Consumes `queues`, acking each delivery at once and noting its task id in `ids`. */
function consumeAcking(t: RedisTransport, queues: string[], ids: string[]): Consumer {
  return t.consume({
    queues,
    prefetch: 4,
    onDelivery: (d) => {
      ids.push(String(d.message.headers['id']));
      void d.ack();
    },
  });
}

void describe('Redis hand-off', () => {
  void test('an idle consumer of one queue is handed its message by BLMOVE; it is recorded before it is settled, and the list is left empty', async () => {
    const queue = `ho.${Date.now()}`;
    const t = createRedisTransport(server.url, HAND_OFF);
    await t.connect();
    const got: Delivery[] = [];
    // Settles at once, from inside onDelivery: before the record's reply can have arrived.
    const c = t.consume({
      queues: [queue],
      prefetch: 4,
      onDelivery: (d) => {
        got.push(d);
        void (got.length === 1 ? d.reject(true) : d.ack());
      },
    });
    await until(async () => (await registered()).some(([, key]) => key === queue), 'a BLMOVE');
    const [[list]] = (await registered()).filter(([, key]) => key === queue) as [[string, string]];
    const monitor = await raw.monitor();
    const seen: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => seen.push(args));
    await publish(t, 'one', queue);
    // The requeued message comes back (handed off again) and is acked the second time.
    await until(() => got.length === 2, 'the delivery and its redelivery');
    assert.deepEqual(
      got.map((d) => d.message.headers['id']),
      ['one', 'one'],
    );
    await until(async () => (await raw.hlen('unacked')) === 0, 'the ack written');
    monitor.disconnect();
    const popped = (key: string): number =>
      seen.filter(([cmd, k]) => cmd?.toLowerCase() === 'rpop' && k === key).length;
    assert.ok(
      seen.filter(([cmd, from, to]) => cmd === 'blmove' && from === queue && to === list).length >=
        2,
      'handed off by BLMOVE, twice',
    );
    assert.equal(popped(list), 2, 'each recorded from the hand-off list');
    assert.equal(popped(queue), 0, 'no claim of the queue itself');
    assert.equal(await raw.llen(list), 0, 'the hand-off list is empty');
    assert.equal(await raw.llen(queue), 0, 'nothing left in the queue, nothing twice');
    await c.close();
    await t.close();
    assert.deepEqual(
      (await registered()).filter(([, key]) => key === queue),
      [],
      'a closed consumer leaves the registry',
    );
    assert.deepEqual(await raw.keys('celeriac.claim.*'), [], 'and no claim record');
  });

  void test('a priority message still wakes a consumer blocked on the plain list, and a consumer of two queues claims instead', async () => {
    const queue = `hop.${Date.now()}`;
    const t = createRedisTransport(server.url, HAND_OFF);
    await t.connect();
    const got: string[] = [];
    const c = consumeAcking(t, [queue], got);
    await until(async () => (await registered()).some(([, key]) => key === queue), 'a BLMOVE');
    await publish(t, 'urgent', queue, 9);
    await until(() => got.length === 1, 'the priority message');
    await publish(t, 'plain', queue);
    await until(() => got.length === 2, 'the plain one');
    await c.close();

    const other = `${queue}.b`;
    const before = await raw.zcard(REGISTRY);
    const both = consumeAcking(t, [queue, other], got);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await raw.zcard(REGISTRY), before, 'no hand-off for two queues');
    await publish(t, 'b1', other);
    await until(() => got.length === 3, 'a message of the second queue');
    await both.close();
    await t.close();
  });

  void test('lists of consumers that went away go back to their queues at the restore pass; live ones stay', async () => {
    const queue = `hod.${Date.now()}`;
    const dead = `celeriac.handoff.dead-${Date.now()}`;
    const live = `celeriac.handoff.live-${Date.now()}`;
    const envelope = (id: string): string =>
      JSON.stringify({
        body: Buffer.from('[[], {}, {}]').toString('base64'),
        'content-encoding': 'utf-8',
        'content-type': 'application/json',
        headers: { lang: 'py', task: 'tasks.add', id },
        properties: {
          delivery_tag: `tag-${id}`,
          delivery_info: { exchange: '', routing_key: queue },
          body_encoding: 'base64',
        },
      });
    await raw.lpush(dead, envelope('lost'));
    await raw.lpush(live, envelope('held'));
    const now = Date.now() / 1000;
    await raw.zadd(REGISTRY, now - 3600, JSON.stringify([dead, queue]));
    await raw.zadd(REGISTRY, now, JSON.stringify([live, queue]));
    await raw.zadd(REGISTRY, now - 3600, 'not json');

    // A consumer's transport runs a restore pass as it starts (and every restoreInterval).
    const t = createRedisTransport(server.url, HAND_OFF);
    await t.connect();
    const got: string[] = [];
    const c = consumeAcking(t, [queue], got);
    await until(() => got.length === 1, 'the message of the dead consumer');
    assert.deepEqual(got, ['lost']);
    assert.equal(await raw.exists(dead), 0);
    assert.equal(await raw.llen(live), 1, "a live consumer's list is left alone");
    const members = await raw.zrange(REGISTRY, '0', '-1');
    assert.ok(!members.includes(JSON.stringify([dead, queue])), 'the dead entry is gone');
    assert.ok(!members.includes('not json'), 'so is an unreadable one');
    assert.ok(members.includes(JSON.stringify([live, queue])));
    await c.close();
    await t.close();
    await raw.del(live);
    await raw.zrem(REGISTRY, JSON.stringify([live, queue]));
  });

  void test('a consumer that closes with a message in its hand-off list puts it back at the front of the queue', async () => {
    const queue = `hoc.${Date.now()}`;
    const t = createRedisTransport(server.url, HAND_OFF);
    await t.connect();
    const got: Delivery[] = [];
    const c = t.consume({ queues: [queue], prefetch: 4, onDelivery: (d) => got.push(d) });
    await until(async () => (await registered()).some(([, key]) => key === queue), 'a BLMOVE');
    const [[list]] = (await registered()).filter(([, key]) => key === queue) as [[string, string]];
    // As if a BLMOVE had moved it and its reply was cut off by the close.
    await publish(t, 'queued', queue);
    await until(() => got.length === 1, 'the first delivery');
    await got[0]!.ack();
    const producer = createRedisTransport(server.url, HAND_OFF);
    await producer.connect();
    await producer.publish(contractMessage('stranded'), {
      exchange: '',
      routingKey: `${queue}.elsewhere`,
    });
    await raw.lmove(`${queue}.elsewhere`, list, 'RIGHT', 'LEFT');
    await c.close();
    assert.equal(await raw.llen(list), 0);
    const back = await raw.lrange(queue, 0, -1);
    assert.equal(back.length, 1, 'back in its queue');
    assert.equal((JSON.parse(back[0]!) as { headers: { id: string } }).headers.id, 'stranded');
    assert.equal(got.length, 1, 'and not delivered by the closing consumer');
    await producer.close();
    await t.close();
  });
});
