/**
 * Bad input on a real Redis queue (issue 4's acceptance): a celeriac worker process serves
 * `celery` while raw garbage is LPUSHed into it: not JSON, JSON that is not a kombu envelope,
 * an envelope without delivery_info, a body that is not a list, a refused content type. Each
 * is logged with its reason and moved to the dead-letter queue as a well-formed kombu
 * envelope; nothing is run, no stray key appears, and the worker keeps serving. The transport
 * part checks what the claim records in `unacked` for such input: values every restore pass
 * (kombu's json.loads + _lookup, and ours) can read, pointing back at the queue.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Celery } from '../../src/index.js';
import { decodeEnvelope, encodeEnvelope } from '../../src/protocol/kombu-envelope.js';
import type { WireMessage } from '../../src/protocol/types.js';
import { quotePython } from '../../src/serialization/json.js';
import { claim, reclaim } from '../../src/transport/redis/claim.js';
import { KeyLayout } from '../../src/transport/redis/keys.js';
import { createRedisTransport } from '../../src/transport/redis/index.js';
import type { Delivery } from '../../src/transport/types.js';
import { ROOT, sandbox, startWorker, type WorkerProcess } from '../e2e/cli-helpers.js';
import { redisServerPath, startRedis, type RedisServer } from '../support/servers.js';
import { readRunLog } from '../support/run-log.js';

const APP = join(ROOT, 'test', 'fixtures', 'apps', 'interop.ts');
const DLQ = 'celeriac.dead_letter';
const MOVED = /moved to the dead-letter queue 'celeriac\.dead_letter'/;

// A private server: the test scans every key it holds.
const skip = !process.env.CI && !redisServerPath() ? 'redis-server is not installed' : false;

/** A protocol-2 tasks.add message as kombu would LPUSH it, then changed by `edit`. */
function taskEnvelope(
  id: string,
  edit: (envelope: Record<string, unknown>) => void = () => {},
  wire: Partial<WireMessage> = {},
): string {
  const message: WireMessage = {
    body: Buffer.from(
      '[[2, 3], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]',
    ),
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    headers: {
      lang: 'py',
      task: 'tasks.add',
      id,
      shadow: null,
      eta: null,
      expires: null,
      group: null,
      group_index: null,
      retries: 0,
      timelimit: [null, null],
      root_id: id,
      parent_id: null,
      argsrepr: '(2, 3)',
      kwargsrepr: '{}',
      origin: 'gen1@test',
      ignore_result: false,
    },
    properties: { correlationId: id, deliveryMode: 2, priority: 0 },
    ...wire,
  };
  const envelope = JSON.parse(
    encodeEnvelope(message, { exchange: '', routingKey: 'celery', deliveryTag: `tag-${id}` }),
  ) as Record<string, unknown>;
  edit(envelope);
  return JSON.stringify(envelope);
}

const NO_DELIVERY_INFO = 'c0000000-0000-4000-8000-00000000000c';
const NOT_A_LIST = 'd0000000-0000-4000-8000-00000000000d';
const PICKLE = 'e0000000-0000-4000-8000-00000000000e';

/** The bad input of the acceptance list: label, raw list item, the reason the log must give. */
const BAD: ReadonlyArray<{
  label: string;
  raw: string;
  /** What the log line says. */
  reason: RegExp;
  /** What the dead-letter header says (default: `reason`). */
  header?: RegExp;
  unreadable: boolean;
}> = [
  {
    label: '(a) not JSON',
    raw: 'not json at all',
    reason: /is not a kombu envelope \(not JSON\): "not json at all"/,
    unreadable: true,
  },
  {
    label: '(a) the same garbage again (each one is reported)',
    raw: 'not json at all',
    reason: /is not a kombu envelope \(not JSON\): "not json at all"/,
    unreadable: true,
  },
  {
    label: '(b) a JSON object that is not an envelope',
    raw: '{"hello": "world"}',
    reason: /is not a kombu envelope \(a JSON object without "properties"\)/,
    unreadable: true,
  },
  {
    label: '(b) JSON that is not an object',
    raw: '[1, 2]',
    reason: /is not a kombu envelope \(JSON, but not an object\): "\[1, 2\]"/,
    unreadable: true,
  },
  {
    label: '(c) an envelope without properties.delivery_info',
    raw: taskEnvelope(NO_DELIVERY_INFO, (e) => {
      delete (e['properties'] as Record<string, unknown>)['delivery_info'];
    }),
    reason: new RegExp(
      `\\(task tasks\\.add, id ${NO_DELIVERY_INFO}\\) has no properties\\.delivery_info with exchange and routing_key \\(kombu requires them`,
    ),
    unreadable: false,
  },
  {
    label: '(d) a body that is not a list',
    raw: taskEnvelope(NOT_A_LIST, () => {}, { body: Buffer.from('{"x": 1}') }),
    reason: /Received an invalid task message \(body is not a list of \[args, kwargs, embed\]/,
    header: /^body is not a list of \[args, kwargs, embed\] \(got a dict\)$/,
    unreadable: false,
  },
  {
    label: '(e) a content type the worker does not accept',
    raw: taskEnvelope(PICKLE, () => {}, {
      body: Buffer.from('gASVAAAAAAAAAAA=', 'base64'),
      contentType: 'application/x-python-serialize',
      contentEncoding: 'binary',
    }),
    reason: /Refusing to deserialize untrusted content of type application\/x-python-serialize/,
    unreadable: false,
  },
];

/** Every key a worker run may leave (anything else is a stray key). */
const EXPECTED_KEYS =
  /^(_kombu\.binding\..+|celeriac\.dead_letter|celeriac\.claim\..+|celeriac\.handoffs|celery-task-meta-.+|unacked_mutex|celeriac\.redeliveries)$/;

void describe('bad input on a Redis queue served by a celeriac worker', { skip }, () => {
  const box = sandbox();
  const runLog = join(box.dir, 'runs.jsonl');
  let redis: RedisServer;
  let raw: Redis;
  let worker: WorkerProcess;
  let client: Celery;

  const ranIds = (): string[] => readRunLog<{ id: string }>(runLog).map((r) => r.id);

  before(async () => {
    redis = await startRedis({ private: true, appendonly: false });
    raw = new Redis(redis.url);
    const env = {
      ...box.env,
      CELERY_BROKER_URL: redis.url,
      CELERY_RESULT_BACKEND: redis.url,
      RUN_LOG: runLog,
    };
    worker = await startWorker(env, ['-c', '2', '-n', 'bad-input@%h'], APP);
    client = new Celery('client', { broker: redis.url, backend: redis.url });
  });
  after(async () => {
    await worker?.stop('SIGKILL');
    await client?.close();
    raw?.disconnect();
    await redis?.stop();
    box.cleanup();
  });

  void test('each kind of bad input is logged with its reason and dead-lettered; the worker keeps serving', async () => {
    const moved = (): string[] =>
      worker
        .output()
        .split('\n')
        .filter((l) => MOVED.test(l));
    for (const [i, bad] of BAD.entries()) {
      await raw.lpush('celery', bad.raw);
      const deadline = Date.now() + 15_000;
      while (moved().length <= i) {
        assert.ok(Date.now() < deadline, `${bad.label}: never moved aside:\n${worker.output()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const line = moved()[i]!;
      assert.match(line, bad.reason, `${bad.label}: the log line gives the reason`);
      assert.match(line, /ERROR\/MainProcess/, `${bad.label}: logged as an error`);
    }
    const output = worker.output();
    assert.equal(moved().length, BAD.length, 'one log line per bad message');
    assert.doesNotMatch(output, /Consumer error/, 'not reported as a consumer (connection) error');

    // Moved aside: every one is in the dead-letter queue, as a kombu envelope a Python
    // consumer can read (delivery_info, delivery_tag, base64 body), with the reason.
    const dead = (await raw.lrange(DLQ, 0, -1)).reverse(); // LPUSHed: oldest last
    assert.equal(dead.length, BAD.length);
    for (const [i, bad] of BAD.entries()) {
      const envelope = JSON.parse(dead[i]!) as {
        properties: Record<string, unknown>;
        headers: Record<string, unknown>;
      };
      assert.deepEqual(
        envelope.properties['delivery_info'],
        { exchange: '', routing_key: DLQ },
        bad.label,
      );
      assert.equal(typeof envelope.properties['delivery_tag'], 'string');
      assert.equal(envelope.properties['body_encoding'], 'base64');
      const d = decodeEnvelope(dead[i]!);
      assert.equal(d.missing, undefined);
      assert.match(
        String(d.message.headers['x-celeriac-dead-letter-reason']),
        bad.header ?? bad.reason,
      );
      assert.equal(d.message.headers['x-celeriac-original-queue'], 'celery');
      if (bad.unreadable) {
        assert.equal(d.message.body.toString('utf8'), bad.raw, `${bad.label}: the text is kept`);
        assert.equal(d.message.contentType, 'application/octet-stream');
      } else {
        const original = decodeEnvelope(bad.raw).message;
        assert.deepEqual(d.message.body, original.body, `${bad.label}: the body is kept`);
        assert.equal(d.message.headers['id'], original.headers['id']);
        assert.equal(d.message.contentType, original.contentType);
      }
    }

    // Nothing ran, nothing is held, nothing went anywhere else.
    const ran = ranIds();
    for (const id of [NO_DELIVERY_INFO, NOT_A_LIST, PICKLE]) assert.ok(!ran.includes(id), id);
    assert.equal(await raw.llen('celery'), 0);
    assert.equal(await raw.hlen('unacked'), 0);
    assert.equal(await raw.zcard('unacked_index'), 0);
    assert.equal(await raw.exists('', 'ae.undeliver'), 0, 'no message went to a stray key');

    // And the worker still serves.
    const res = await client.sendTask('tasks.add', [20, 22]);
    assert.equal(await res.get({ timeout: 20 }), 42);
    assert.equal(worker.child.exitCode, null, 'the worker process is still running');
    // The add task's ack rides with the worker's next Redis call, so unacked may hold it for a
    // moment after its result is stored: wait for that, then nothing else may be left.
    const strayKeys = async (): Promise<string[]> =>
      (await raw.keys('*')).filter((k) => !EXPECTED_KEYS.test(k));
    const until = Date.now() + 5000;
    while ((await strayKeys()).length > 0 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await strayKeys(), [], 'no stray keys');
  });

  void test('what the claim records in unacked for bad input points back at its queue, and a restore returns it there', async () => {
    const queue = 'held-bad';
    const items = ['not json at all', '[1, 2]', BAD[4]!.raw]; // unreadable ×2, no delivery_info
    await raw.lpush(queue, ...items);
    // A restore pass runs every 0.25 s; no touches: what this consumer holds goes stale in 1 s.
    const t = createRedisTransport(redis.url, { visibilityTimeout: 1, touchInterval: 600 });
    await t.connect();
    const got: Array<{ d: Delivery; e: Error }> = [];
    const consumer = t.consume({
      queues: [queue],
      prefetch: 10,
      onDelivery: () => assert.fail('bad input is never an ordinary delivery'),
      onMalformed: (d, e) => got.push({ d, e }),
    });
    try {
      const until = async (n: number): Promise<void> => {
        const deadline = Date.now() + 10_000;
        while (got.length < n) {
          assert.ok(Date.now() < deadline, `only ${got.length} of ${n} malformed deliveries`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      await until(3);
      const values = await raw.hvals('unacked');
      assert.equal(values.length, 3);
      for (const value of values) {
        // kombu's restore: M, EX, RK = json.loads(value); then _lookup(EX, RK) → [RK].
        const parsed = JSON.parse(value) as unknown[];
        assert.equal(parsed.length, 3, value);
        assert.deepEqual(parsed.slice(1), ['', queue], `recorded with the queue: ${value}`);
      }
      const firstRound = got.map((g) => (g.d as { raw?: string }).raw);
      assert.deepEqual(new Set(firstRound), new Set(items));

      // Held by nobody who touches them: the restore pass puts them back on the queue, where
      // they are claimed (and reported) again.
      await until(6);
      const again = got.slice(3);
      const unreadable = again.filter(
        (g) => g.d.message.contentType === 'application/octet-stream',
      );
      assert.deepEqual(
        new Set(unreadable.map((g) => g.d.message.body.toString('utf8'))),
        new Set(items.slice(0, 2)),
        'the unreadable items came back unchanged',
      );
      const envelope = again.find((g) => g.d.message.headers['id'] === NO_DELIVERY_INFO);
      assert.ok(envelope, 'the envelope without delivery_info came back to its queue');
      assert.equal(envelope.d.message.headers['redelivered'], true);
      assert.equal(await raw.exists('', 'ae.undeliver'), 0, 'nothing went to a stray key');
      for (const g of got) await g.d.ack();
    } finally {
      await consumer.close();
      await t.close();
    }
    assert.equal(await raw.hlen('unacked'), 0);
  });

  void test('a claim whose reply was lost hands the same bad items back (RECLAIM)', async () => {
    const queue = 'reclaim-bad';
    const items = ['not json at all', '"text"', BAD[4]!.raw];
    await raw.lpush(queue, ...items);
    const layout = new KeyLayout({ db: 0 });
    const keys = layout.consumeKeys([queue]);
    const who = { consumer: 'bad-input-test', id: '1', ttl: 60 };
    const took = await claim(raw, layout, keys, 10, [], undefined, who);
    assert.deepEqual(
      took.map((c) => c.raw),
      items,
      'RPOP order',
    );
    const back = await reclaim(raw, layout, keys, who);
    assert.deepEqual(
      back.map((c) => [c.raw, c.tag]),
      took.map((c) => [c.raw, c.tag]),
    );
    for (const c of took) {
      const value = await raw.hget('unacked', c.tag);
      assert.deepEqual((JSON.parse(value!) as unknown[]).slice(1), ['', queue]);
      assert.ok(value!.endsWith(`, "", ${quotePython(queue)}]`));
    }
    await raw.del('unacked', 'unacked_index', `celeriac.claim.${who.consumer}`);
  });
});
