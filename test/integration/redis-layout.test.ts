/**
 * kombu's Redis layout, byte for byte, checked against the captured Python fixtures: what we
 * LPUSH, the binding sets, priority sub-queues, the `unacked` hash and index, restores in
 * both directions (ours of a Python-held message, a kombu-style restore of ours), fanout
 * channels and pidbox replies, and the global key prefix.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import {
  decodeEnvelope,
  markRedelivered,
  parseUnackedValue,
} from '../../src/protocol/kombu-envelope.js';
import { jsonLoads } from '../../src/serialization/json.js';
import type { Delivery } from '../../src/transport/types.js';
import { createRedisTransport, type RedisTransport } from '../../src/transport/redis/index.js';
import { startRedis, type RedisServer } from '../support/servers.js';

// Fixtures are arbitrary captured JSON that the tests navigate freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'protocol');
const fixture = (name: string): Json => jsonLoads(readFileSync(join(FIXTURES, name), 'utf8'));
const SEP = '\x06\x16';

let server: RedisServer;
let db = 0;
/** A fresh database per test: the layout tests look at every key. */
async function fresh(): Promise<{ url: string; raw: Redis }> {
  db = (db % 15) + 1;
  const url = server.url.replace(/\/\d+$/, `/${db}`);
  const raw = new Redis(url);
  await raw.flushdb();
  return { url, raw };
}

/** Consumes until `count` deliveries arrived. */
function take(
  t: RedisTransport,
  queues: string[],
  count: number,
): Promise<{ deliveries: Delivery[]; close: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const deliveries: Delivery[] = [];
    const timer = setTimeout(
      () => reject(new Error(`only ${deliveries.length} of ${count} deliveries`)),
      5000,
    );
    const consumer = t.consume({
      queues,
      prefetch: count,
      onDelivery: (d) => {
        deliveries.push(d);
        if (deliveries.length === count) {
          clearTimeout(timer);
          resolve({ deliveries, close: () => consumer.close() });
        }
      },
    });
  });
}

before(async () => {
  server = await startRedis();
});
after(() => server.stop());

void describe('kombu layout on Redis', () => {
  void test("task_plain: we LPUSH Python's envelope and SADD Python's binding", async () => {
    const { url, raw } = await fresh();
    const t = createRedisTransport(url);
    await t.connect();
    const f = fixture('task_plain.json');
    const sent = decodeEnvelope(f.messages[0].raw);
    await t.publish(sent.message, { exchange: '', routingKey: 'celery' });
    const [pushed] = await raw.lrange('celery', 0, -1);
    const ours = decodeEnvelope(pushed!);
    assert.match(ours.deliveryTag!, /^[0-9a-f-]{36}$/);
    assert.equal(
      pushed!.replace(ours.deliveryTag!, sent.deliveryTag!),
      f.messages[0].raw,
      'byte-identical but for the delivery tag',
    );
    assert.deepEqual(
      await raw.smembers('_kombu.binding.celery'),
      f.keys_after['_kombu.binding.celery'].members,
    );
    await t.declare({ name: 'celery' });
    assert.deepEqual(await raw.smembers('_kombu.binding.celery'), [`celery${SEP}${SEP}celery`]);
    await t.close();
    raw.disconnect();
  });

  void test('task_priority: priorities 5, 9, 0, 2 land in the same sub-queues as Python put them', async () => {
    const { url, raw } = await fresh();
    const t = createRedisTransport(url);
    await t.connect();
    const f = fixture('task_priority.json');
    for (const m of f.messages) {
      const d = decodeEnvelope(m.raw);
      await t.publish(d.message, { exchange: '', routingKey: 'celery' }, { priority: d.priority });
    }
    const keys = (await raw.keys('celery*')).sort();
    assert.deepEqual(keys, [...new Set(f.messages.map((m: Json) => m.key as string))].sort());
    for (const key of keys) {
      const expected = f.messages
        .filter((m: Json) => m.key === key)
        .map((m: Json) => decodeEnvelope(m.raw).message.headers['id']);
      const got = (await raw.lrange(key, 0, -1))
        .reverse()
        .map((r) => decodeEnvelope(r).message.headers['id']);
      assert.deepEqual(got, expected, `FIFO contents of ${JSON.stringify(key)}`);
    }
    const { deliveries, close } = await take(t, ['celery'], 4);
    assert.deepEqual(
      deliveries.map((d) => d.message.properties.priority),
      [0, 2, 5, 9],
      'lower numbers first; the claim reads the sub-queues in BRPOP order',
    );
    for (const d of deliveries) await d.ack();
    await close();
    await t.close();
    raw.disconnect();
  });

  void test('a claim writes unacked/unacked_index as QoS.append does, and ack removes both', async () => {
    const { url, raw } = await fresh();
    const f = fixture('redis_unacked_restore.json');
    const lpush = f.relevant_commands_in_order.find((c: string[]) => c[0] === 'LPUSH') as string[];
    const hset = f.relevant_commands_in_order.find(
      (c: string[]) => c[0] === 'HSET' && c[2] === lpush[2]!.match(/"delivery_tag": "([^"]+)"/)![1],
    ) as string[];
    await raw.lpush('celery', lpush[2]!);
    const t = createRedisTransport(url);
    await t.connect();
    const before = Date.now() / 1000;
    const { deliveries, close } = await take(t, ['celery'], 1);
    const d = deliveries[0]!;
    assert.equal(d.deliveryTag, hset[2]);
    assert.equal(
      await raw.hget('unacked', d.deliveryTag),
      hset[3],
      'the unacked value, byte for byte',
    );
    const score = Number(await raw.zscore('unacked_index', d.deliveryTag));
    assert.ok(
      score >= before - 1 && score <= Date.now() / 1000 + 1,
      `unacked_index score ${score} is now in epoch seconds`,
    );
    assert.equal(await raw.llen('celery'), 0);
    await d.ack();
    assert.equal(await raw.exists('unacked', 'unacked_index'), 0);
    await close();
    await t.close();
    raw.disconnect();
  });

  void test('the claim reads envelopes in other spellings too (compact JSON, escapes)', async () => {
    const { url, raw } = await fresh();
    const odd = [
      '{"body":"e30=","content-type":"application/json","content-encoding":"utf-8","headers":{"id":"compact"},' +
        '"properties":{"delivery_tag":"t-compact","delivery_info":{"routing_key":"q\\u00e9","exchange":""},"body_encoding":"base64"}}',
      '{"body": "e30=", "content-type": "application/json", "content-encoding": "utf-8", "headers": {"id": "esc"}, ' +
        '"properties": {"delivery_info": {"exchange": "ex\\"q", "routing_key": "k"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "t-esc"}}',
    ];
    for (const r of odd) await raw.lpush('q', r);
    const t = createRedisTransport(url);
    await t.connect();
    const { deliveries, close } = await take(t, ['q'], 2);
    assert.deepEqual(
      deliveries.map((d) => d.deliveryTag),
      ['t-compact', 't-esc'],
    );
    assert.deepEqual(
      deliveries.map((d) => [d.exchange, d.routingKey]),
      [
        ['', 'qé'],
        ['ex"q', 'k'],
      ],
    );
    const entry = parseUnackedValue((await raw.hget('unacked', 't-esc'))!);
    assert.deepEqual([entry.exchange, entry.routingKey], ['ex"q', 'k']);
    for (const d of deliveries) await d.ack();
    await close();
    await t.close();
    raw.disconnect();
  });

  void test('deliveryCount counts our requeues; a message that is not an envelope is dropped and reported', async () => {
    const { url, raw } = await fresh();
    const t = createRedisTransport(url);
    await t.connect();
    await raw.lpush('q', 'not json at all');
    await t.publish(decodeEnvelope(fixture('task_plain.json').messages[0].raw).message, {
      exchange: '',
      routingKey: 'q',
    });
    const errors: Error[] = [];
    const counts: number[] = [];
    await new Promise<void>((resolve) => {
      const c = t.consume({
        queues: ['q'],
        prefetch: 1,
        onError: (e) => errors.push(e),
        onDelivery: (d) => {
          counts.push(d.deliveryCount);
          if (counts.length < 3) void d.reject(true);
          else
            void d
              .ack()
              .then(() => c.close())
              .then(resolve);
        },
      });
    });
    assert.deepEqual(counts, [0, 1, 2]);
    assert.ok(
      errors.some((e) => (e as { code?: string }).code === 'MESSAGE_MALFORMED'),
      'the garbage was reported',
    );
    assert.equal(
      await raw.exists('unacked', 'unacked_index', 'celeriac.redeliveries', 'q'),
      0,
      'nothing left behind',
    );
    await t.close();
    raw.disconnect();
  });

  void test("our restore pass puts a stale Python-held message back exactly as kombu's does", async () => {
    const { url, raw } = await fresh();
    const f = fixture('redis_unacked_restore.json');
    const planted = f.planted_unacked_entry;
    await raw.hset('unacked', planted.unacked_field, planted.unacked_value);
    await raw.zadd('unacked_index', String(Date.now() / 1000 - 7200), planted.unacked_field);
    const t = createRedisTransport(url);
    await t.connect();
    const { deliveries, close } = await take(t, ['celery'], 1);
    const d = deliveries[0]!;
    assert.equal(d.deliveryTag, 'restore-me-delivery-tag');
    assert.equal(d.redelivered, true);
    assert.equal(d.deliveryCount, 1);
    assert.equal(d.message.headers['redelivered'], true);
    const rehset = f.relevant_commands_in_order.find(
      (c: string[]) => c[0] === 'HSET' && c[2] === 'restore-me-delivery-tag',
    ) as string[];
    assert.equal(
      await raw.hget('unacked', d.deliveryTag),
      rehset[3],
      'what we RPUSHed then claimed equals what Python RPUSHed then claimed',
    );
    assert.equal(await raw.exists('unacked_mutex'), 0, 'the mutex is released');
    await d.ack();
    await close();
    await t.close();
    raw.disconnect();
  });

  void test('a kombu-style restore finds our stale held message, and leaves touched ones alone', async () => {
    const { url, raw } = await fresh();
    const visibility = 1;
    const t = createRedisTransport(url, {
      visibilityTimeout: visibility,
      touchInterval: 3600,
      restoreInterval: 3600,
    });
    await t.connect();
    const message = decodeEnvelope(fixture('task_plain.json').messages[0].raw).message;
    await t.publish(message, { exchange: '', routingKey: 'celery' });
    const { deliveries, close } = await take(t, ['celery'], 1);
    const held = deliveries[0]!;
    await new Promise((r) => setTimeout(r, 1200));
    const restored = await kombuRestoreVisible(raw, visibility);
    assert.deepEqual(restored, [held.deliveryTag]);
    const back = decodeEnvelope((await raw.lrange('celery', 0, -1))[0]!);
    assert.equal(back.deliveryTag, held.deliveryTag);
    assert.equal(back.redelivered, true);
    await close();
    await t.close();

    const touching = createRedisTransport(url, {
      visibilityTimeout: visibility,
      touchInterval: 0.2,
      restoreInterval: 3600,
    });
    await touching.connect();
    const again = await take(touching, ['celery'], 1);
    await new Promise((r) => setTimeout(r, 1300));
    assert.deepEqual(
      await kombuRestoreVisible(raw, visibility),
      [],
      'a touched delivery is not stale',
    );
    assert.equal(again.deliveries[0]!.deliveryCount, 1);
    await again.deliveries[0]!.ack();
    await again.close();
    await touching.close();
    raw.disconnect();
  });

  void test('fanout: PUBLISH on /{db}.exchange/key, PSUBSCRIBE with # → *, binding entries like kombu', async () => {
    const { url, raw } = await fresh();
    const t = createRedisTransport(url);
    await t.connect();
    const sub = new Redis(url);
    const seen: Array<[string, string]> = [];
    sub.on('pmessage', (_p: string, channel: string, payload: string) =>
      seen.push([channel, payload]),
    );
    await sub.psubscribe(`/${db}.celeryev/*`);
    const request = fixture('pidbox_ping_broadcast.json').requests[0];
    const msg = decodeEnvelope(request.raw).message;
    await t.broadcast('celeryev', 'worker.heartbeat', msg);
    const got: string[] = [];
    const subscription = await t.subscribe(
      'celery.pidbox',
      '',
      (m) => got.push(String(m.headers['clock'])),
      {
        queue: 'celery@spec.celery.pidbox',
      },
    );
    assert.deepEqual(await raw.smembers('_kombu.binding.celery.pidbox'), [
      `${SEP}${SEP}celery@spec.celery.pidbox`,
    ]);
    assert.ok(Number(await raw.call('PUBSUB', 'NUMPAT')) >= 1);
    await raw.publish(`/${db}.celery.pidbox`, request.raw);
    for (let i = 0; i < 100 && (seen.length === 0 || got.length === 0); i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(seen[0]?.[0], `/${db}.celeryev/worker.heartbeat`);
    assert.equal(decodeEnvelope(seen[0]?.[1] ?? '').exchange, 'celeryev');
    assert.deepEqual(got, ['8'], "the Python request's clock header");
    await subscription.close();
    assert.deepEqual(await raw.smembers('_kombu.binding.celery.pidbox'), []);
    sub.disconnect();
    await t.close();
    raw.disconnect();
  });

  void test("pidbox replies: a publish to a named direct exchange follows the requester's binding", async () => {
    const { url, raw } = await fresh();
    const oid = '6df08f58-6e45-3363-abcc-de9b6f754b60';
    await raw.sadd(
      '_kombu.binding.reply.celery.pidbox',
      `${oid}${SEP}${SEP}${oid}.reply.celery.pidbox`,
    );
    const t = createRedisTransport(url);
    await t.connect();
    const reply = fixture('pidbox_ping_broadcast.json').replies[0];
    const d = decodeEnvelope(reply.raw);
    await t.publish(d.message, { exchange: 'reply.celery.pidbox', routingKey: oid });
    const [pushed] = await raw.lrange(reply.key, 0, -1);
    assert.ok(pushed, `the reply is in ${reply.key}`);
    const back = decodeEnvelope(pushed);
    assert.equal(pushed.replace(back.deliveryTag!, d.deliveryTag!), reply.raw);
    await t.close();
    raw.disconnect();
  });

  void test('globalKeyprefix prefixes every key and channel', async () => {
    const { url, raw } = await fresh();
    const t = createRedisTransport(url, { global_keyprefix: 'app:' });
    await t.connect();
    const message = decodeEnvelope(fixture('task_plain.json').messages[0].raw).message;
    await t.publish(message, { exchange: '', routingKey: 'celery' }, { priority: 9 });
    const { deliveries, close } = await take(t, ['celery'], 1);
    // The consumer's claim record (claim.ts) lives while it consumes, prefixed like the rest.
    const records = await raw.keys('app:celeriac.claim.*');
    assert.equal(records.length, 1);
    assert.ok((await raw.ttl(records[0]!)) > 0, 'the claim record expires');
    const keys = async (): Promise<string[]> =>
      (await raw.keys('*')).filter((k) => !k.startsWith('app:celeriac.claim.')).sort();
    assert.deepEqual(await keys(), [
      'app:_kombu.binding.celery',
      'app:unacked',
      'app:unacked_index',
    ]);
    await deliveries[0]!.defer(Date.now() + 60_000);
    assert.deepEqual(await keys(), [
      'app:_kombu.binding.celery',
      'app:celeriac.delayed',
      'app:celeriac.delayed.messages',
    ]);
    await close();
    assert.deepEqual(await raw.keys('app:celeriac.claim.*'), [], 'close() removes it');
    await t.close();
    raw.disconnect();
  });

  void test('defer moves the message out of unacked into celeriac.delayed, due in epoch ms', async () => {
    const { url, raw } = await fresh();
    const t = createRedisTransport(url);
    await t.connect();
    const message = decodeEnvelope(fixture('task_plain.json').messages[0].raw).message;
    await t.publish(message, { exchange: '', routingKey: 'celery' }, { priority: 3 });
    const { deliveries, close } = await take(t, ['celery'], 1);
    const d = deliveries[0]!;
    const due = Date.now() + 3_600_000;
    await d.defer(due);
    assert.equal(await raw.exists('unacked', 'unacked_index'), 0);
    assert.equal(Number(await raw.zscore('celeriac.delayed', d.deliveryTag)), due);
    const stored = (await raw.hget('celeriac.delayed.messages', d.deliveryTag))!;
    const key = `celery${SEP}3`;
    assert.equal(stored, `${key.length}:${key}${(d as unknown as { raw: string }).raw}`);
    await close();
    await t.close();
    raw.disconnect();
  });
});

/**
 * kombu 5.2.4's QoS.restore_visible + restore_by_tag, command for command (spec §b.5),
 * with Python's JSON re-dump of the payload. Returns the restored tags.
 */
async function kombuRestoreVisible(raw: Redis, visibilityTimeout: number): Promise<string[]> {
  const token = 'eac3ed1ce89311f1b82902fc00000001';
  if ((await raw.set('unacked_mutex', token, 'PX', 300000, 'NX')) !== 'OK') return [];
  const restored: string[] = [];
  try {
    const ceil = Date.now() / 1000 - visibilityTimeout;
    const visible = await raw.zrevrangebyscore('unacked_index', ceil, 0, 'WITHSCORES');
    for (let i = 0; i < visible.length; i += 2) {
      const tag = visible[i]!;
      const conn = raw.duplicate();
      await conn.watch('unacked');
      const p = await conn.hget('unacked', tag);
      const multi = conn.multi().zrem('unacked_index', tag).hdel('unacked', tag);
      if (p) {
        const entry = parseUnackedValue(p);
        multi.rpush(entry.routingKey, markRedelivered(entry.envelope));
        restored.push(tag);
      }
      await multi.exec();
      conn.disconnect();
    }
  } finally {
    const release =
      "\n        local token = redis.call('get', KEYS[1])\n        if not token or token ~= ARGV[1] then\n            return 0\n        end\n        redis.call('del', KEYS[1])\n        return 1\n    ";
    await raw.eval(release, 1, 'unacked_mutex', token);
  }
  return restored;
}
