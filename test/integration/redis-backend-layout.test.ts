/**
 * The Redis result backend writes Celery's keys with Celery's commands: SETEX + PUBLISH
 * in one atomic step (a Python-style waiter wakes on the PUBLISH), group metas, chord keys
 * and members exactly as Python writes them, chord joins shared with Python's command
 * sequence, and a TTL on every key it writes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { contractMeta } from '../../src/backend/backend.contract.js';
import { createRedisBackend } from '../../src/backend/redis.js';
import { decodeMeta } from '../../src/protocol/result-meta.js';
import { jsonLoads } from '../../src/serialization/json.js';
import { contractMessage } from '../../src/transport/transport.contract.js';
import { createRedisTransport } from '../../src/transport/redis/index.js';
import { startRedis, type RedisServer } from '../support/servers.js';

// Fixtures are arbitrary captured JSON that the tests navigate freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'protocol');
const fixture = (name: string): Json => jsonLoads(readFileSync(join(FIXTURES, name), 'utf8'));

let server: RedisServer;
let db = 0;
async function fresh(): Promise<{ url: string; raw: Redis }> {
  db = (db % 15) + 1;
  const url = server.url.replace(/\/\d+$/, `/${db}`);
  const raw = new Redis(url);
  await raw.flushdb();
  return { url, raw };
}

before(async () => {
  server = await startRedis();
});
after(() => server.stop());

void describe('Redis result backend layout', () => {
  void test('result_success: the stored meta is byte-identical, with SETEX 86400 and a PUBLISH on the key name', async () => {
    const { url, raw } = await fresh();
    const f = fixture('result_success.json').result_writes_in_order[0];
    const sub = new Redis(url);
    const published: string[] = [];
    sub.on('message', (_channel: string, payload: string) => published.push(payload));
    await sub.subscribe(f.key);
    const b = createRedisBackend(url);
    await b.connect();
    await b.store(decodeMeta(f.raw));
    assert.equal(await raw.get(f.key), f.raw);
    const ttl = await raw.ttl(f.key);
    assert.ok(ttl > 86_390 && ttl <= 86_400, `TTL ${ttl}`);
    for (let i = 0; i < 100 && published.length === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      published,
      [f.raw],
      'a Python client blocked in get() is woken by this PUBLISH',
    );
    await b.close();
    sub.disconnect();
    raw.disconnect();
  });

  void test('resultExpires 0 stores without a TTL; a per-call expires wins', async () => {
    const { url, raw } = await fresh();
    const b = createRedisBackend(url, { result_expires: 0 });
    await b.connect();
    await b.store(contractMeta('forever', 'SUCCESS', 1));
    await b.store(contractMeta('short', 'SUCCESS', 1), { expires: 30 });
    assert.equal(await raw.ttl('celery-task-meta-forever'), -1);
    assert.ok((await raw.ttl('celery-task-meta-short')) <= 30);
    await b.close();
    raw.disconnect();
  });

  void test('group meta and chord keys and members as Python writes them (group_result_save, worker_chord3)', async () => {
    const { url, raw } = await fresh();
    const b = createRedisBackend(url);
    await b.connect();
    const g = fixture('group_result_save.json').publishes[0];
    const gid = String(g.channel).replace('celery-taskset-meta-', '');
    await b.saveGroup(gid, (jsonLoads(g.raw) as Json).result);
    assert.equal(await raw.get(g.channel), g.raw);
    assert.ok((await raw.ttl(g.channel)) > 86_000);

    const chord = fixture('redis_worker_command_sequences.json').steps.chord3.map(
      (e: Json) => e[2] as string[],
    );
    const sizeSet = chord.find((c: string[]) => c[0] === 'SETEX' && c[1]!.endsWith('.s'))!;
    const chordGid = sizeSet[1]!.slice('celery-taskset-meta-'.length, -2);
    await b.setChordSize(chordGid, 3);
    assert.equal(await raw.get(sizeSet[1]), sizeSet[3]);
    const zadds = chord.filter((c: string[]) => c[0] === 'ZADD' && c[1]!.endsWith('.j'));
    for (const [i, zadd] of zadds.entries()) {
      const [, id, state, result] = jsonLoads(zadd[3]) as [number, string, string, number];
      const r = await b.chordPartCompleted(
        chordGid,
        Number(zadd[2]),
        contractMeta(id, state, result),
      );
      assert.equal(r.complete, i === zadds.length - 1);
    }
    const members = await raw.zrange(`${sizeSet[1]!.slice(0, -2)}.j`, '0', '-1', 'WITHSCORES');
    const expected = [...zadds]
      .sort((x: string[], y: string[]) => Number(x[2]) - Number(y[2]))
      .flatMap((z: string[]) => [z[3], z[2]]);
    assert.deepEqual(members, expected, 'members and scores byte for byte');
    await b.close();
    raw.disconnect();
  });

  void test('chord join: Python header tasks and ours complete the same chord, exactly one completion', async () => {
    const { url, raw } = await fresh();
    const backends = Array.from({ length: 4 }, () => createRedisBackend(url));
    await Promise.all(backends.map((b) => b.connect()));
    const gid = 'c5c5c5c5-0000-4000-8000-000000000000';
    const size = 40;
    await backends[0]!.setChordSize(gid, size);
    /** What a Python worker sends after storing a header task's result (spec §f.5). */
    const pythonPart = async (index: number, id: string): Promise<boolean> => {
      const base = `celery-taskset-meta-${gid}`;
      const res = await raw
        .multi()
        .zadd(`${base}.j`, index, `[1, "${id}", "SUCCESS", ${index}]`)
        .zcount(`${base}.j`, '-inf', '+inf')
        .get(`${base}.t`)
        .get(`${base}.s`)
        .expire(`${base}.j`, 86400)
        .expire(`${base}.t`, 86400)
        .expire(`${base}.s`, 86400)
        .exec();
      const [, count, total, sizeText] = res!.map(([, v]) => v);
      return sizeText !== null && Number(count) === Number(sizeText) + Number(total ?? 0);
    };
    const ids = Array.from({ length: size }, (_, i) => `part-${String(i).padStart(2, '0')}`);
    const outcomes = await Promise.all(
      ids.map(async (id, i) => {
        if (i % 3 === 0) return { who: 'python', complete: await pythonPart(i, id) };
        const r = await backends[i % 4]!.chordPartCompleted(gid, i, contractMeta(id, 'SUCCESS', i));
        return { who: 'ts', complete: r.complete, members: r.members };
      }),
    );
    const done = outcomes.filter((o) => o.complete);
    assert.equal(
      done.length,
      1,
      `exactly one completion, got ${JSON.stringify(done.map((d) => d.who))}`,
    );
    const winner = done[0] as { members?: Array<{ taskId: string; result: unknown }> };
    if (winner.members) {
      assert.deepEqual(
        winner.members.map((m) => m.taskId),
        ids,
      );
      assert.deepEqual(
        winner.members.map((m) => m.result),
        ids.map((_, i) => i),
      );
    }
    await backends[0]!.chordCleanup(gid);
    assert.equal(
      await raw.exists(`celery-taskset-meta-${gid}.j`, `celery-taskset-meta-${gid}.s`),
      0,
    );
    await Promise.all(backends.map((b) => b.close()));
    raw.disconnect();
  });

  void test('after a full run every key has a TTL, except the kombu binding sets', async () => {
    const { url, raw } = await fresh();
    const t = createRedisTransport(url, { visibilityTimeout: 3600 });
    const b = createRedisBackend(url);
    await Promise.all([t.connect(), b.connect()]);
    const ids = Array.from({ length: 30 }, (_, i) => `t${i}`);
    for (const id of ids)
      await t.publish(
        contractMessage(id),
        { exchange: '', routingKey: 'celery' },
        { priority: Number(id.slice(1)) % 10 },
      );
    let left = ids.length;
    const deferred = new Set<string>();
    await new Promise<void>((resolve) => {
      t.consume({
        queues: ['celery'],
        prefetch: 8,
        onDelivery: (d) => {
          const id = String(d.message.headers['id']);
          void (async () => {
            await b.store(contractMeta(id, 'STARTED', { pid: 1, hostname: 'h' }));
            if (id === 't5' && !deferred.has(id)) {
              deferred.add(id);
              await d.defer(Date.now() + 50);
            } else {
              await b.store(contractMeta(id, 'SUCCESS', id));
              await d.ack();
              if (--left === 0) resolve();
            }
          })();
        },
      });
    });
    await b.saveGroup('g1', [['g1', null], ids.map((id) => [[id, null], null])]);
    await b.setChordSize('c1', 2);
    await b.chordPartCompleted('c1', 0, contractMeta('t0', 'SUCCESS', 't0'));
    await t.close();
    await b.close();
    const keys = await raw.keys('*');
    const withoutTtl: string[] = [];
    for (const key of keys)
      if ((await raw.ttl(key)) < 0 && !key.startsWith('_kombu.binding.')) withoutTtl.push(key);
    assert.deepEqual(withoutTtl, [], `keys without a TTL: ${withoutTtl.join(', ')}`);
    assert.ok(keys.includes('_kombu.binding.celery'));
    assert.ok(
      keys.includes('celery-task-meta-t0') &&
        keys.includes('celery-taskset-meta-g1') &&
        keys.includes('celery-taskset-meta-c1.j'),
    );
    raw.disconnect();
  });
});
