/**
 * Remote control messages against the captured Celery 5.2.6 fixtures: every request and
 * reply decodes and re-encodes byte for byte; celeriac's client publishes the same requests
 * as Python's for the same calls; reply shapes decode into typed values and back.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Control, type ControlHost } from '../../src/control/control.js';
import { LamportClock } from '../../src/events/clock.js';
import { decodeEnvelope } from '../../src/protocol/kombu-envelope.js';
import {
  decodeControlRequest,
  decodeReply,
  encodeControlRequest,
  encodeReply,
  globToRegExp,
  matchNode,
  requestIsFor,
} from '../../src/protocol/pidbox.js';
import {
  decodeQueueInfo,
  decodeRequestInfo,
  decodeScheduledInfo,
  decodeStats,
  encodeHelloReply,
  encodeQueueInfo,
  encodeRequestInfo,
  encodeScheduledInfo,
  encodeStats,
} from '../../src/protocol/pidbox-replies.js';
import type { WireMessage } from '../../src/protocol/types.js';
import { jsonLoads, pyDumps } from '../../src/serialization/json.js';
import type { ConsumeOptions, Delivery, Transport } from '../../src/transport/types.js';
import { FIXTURE_DIR, loadFixture } from '../support/fixtures.js';

type Json = Record<string, unknown>;

const PIDBOX = readdirSync(FIXTURE_DIR)
  .filter((f) => f.startsWith('pidbox_') && f.endsWith('.json'))
  .map((f) => f.slice(0, -5));

function requestsOf(name: string): Json[] {
  return (loadFixture(name)['requests'] as Json[] | undefined) ?? [];
}
function repliesOf(name: string): Json[] {
  return (loadFixture(name)['replies'] as Json[] | undefined) ?? [];
}
function bodyOf(raw: unknown): { text: string; envelope: ReturnType<typeof decodeEnvelope> } {
  const envelope = decodeEnvelope(String(raw));
  return { text: envelope.message.body.toString('utf8'), envelope };
}

void describe('pidbox codec against the fixtures', () => {
  void test('there is a fixture per command', () => {
    assert.ok(PIDBOX.length >= 30, PIDBOX.join(' '));
  });

  void test('every request: decode → encode gives the same body, byte for byte; headers clock + expires', () => {
    let n = 0;
    for (const name of PIDBOX) {
      for (const r of requestsOf(name)) {
        const { text, envelope } = bodyOf(r['raw']);
        const req = decodeControlRequest(jsonLoads(text));
        assert.equal(pyDumps(encodeControlRequest(req)), text, name);
        assert.deepEqual(Object.keys(envelope.message.headers), ['clock', 'expires'], name);
        assert.equal(envelope.exchange, 'celery.pidbox');
        assert.equal(envelope.routingKey, '');
        assert.equal(envelope.message.properties.deliveryMode, 2);
        assert.equal(r['channel'], '/0.celery.pidbox');
        n++;
      }
    }
    for (const r of loadFixture('amqp_pidbox')['requests'] as Json[]) {
      const text = String(r['body_raw_utf8']);
      assert.equal(pyDumps(encodeControlRequest(decodeControlRequest(JSON.parse(text)))), text);
      n++;
    }
    assert.ok(n >= 35);
  });

  void test('every reply: {node: reply}, headers ticket + clock, to the requester routing key', () => {
    let n = 0;
    for (const name of PIDBOX) {
      const requests = requestsOf(name);
      for (const r of repliesOf(name)) {
        const { text, envelope } = bodyOf(r['raw']);
        const pairs = decodeReply(jsonLoads(text));
        assert.equal(pairs.length, 1);
        assert.equal(pairs[0]!.node, 'celery@specworker');
        assert.equal(pyDumps(encodeReply(pairs[0]!.node, pairs[0]!.reply)), jsSpelling(text), name);
        assert.deepEqual(Object.keys(envelope.message.headers), ['ticket', 'clock']);
        assert.equal(envelope.exchange, 'reply.celery.pidbox');
        assert.equal(envelope.message.properties.deliveryMode, 1);
        const request = requests.find(
          (q) => (q['body_decoded'] as Json)['ticket'] === envelope.message.headers['ticket'],
        );
        assert.ok(request, `${name}: reply matches a request ticket`);
        const replyTo = (request['body_decoded'] as Json)['reply_to'] as Json;
        assert.equal(envelope.routingKey, replyTo['routing_key']);
        assert.equal(r['key'], `${String(replyTo['routing_key'])}.reply.celery.pidbox`);
        n++;
      }
    }
    assert.ok(n >= 28);
  });

  void test('casts carry no ticket and no reply_to (revoke_many_cast); shutdown gets no reply', () => {
    const cast = decodeControlRequest(
      requestsOf('pidbox_control_revoke_many_cast')[0]!['body_decoded'],
    );
    assert.equal(cast.ticket, undefined);
    assert.equal(cast.replyTo, undefined);
    assert.deepEqual(Object.keys(encodeControlRequest(cast)), [
      'method',
      'arguments',
      'destination',
      'pattern',
      'matcher',
    ]);
    assert.deepEqual(repliesOf('pidbox_control_shutdown'), []);
  });

  void test('structured replies decode to typed values and encode back to the same wire shape', () => {
    const reply = (name: string): unknown =>
      (repliesOf(name)[0]!['body_decoded'] as Json)['celery@specworker'];
    const active = reply('pidbox_inspect_active') as Json[];
    const info = decodeRequestInfo(active[0]);
    assert.equal(info.id, 'c0000000-0000-4000-8000-000000000017');
    assert.equal(info.type, 'tasks.sleep');
    assert.deepEqual(info.args, [12]);
    assert.equal(info.timeStart, 1795585433.492474);
    assert.equal(info.acknowledged, true);
    assert.equal(info.deliveryInfo.routingKey, 'celery');
    assert.equal(info.deliveryInfo.redelivered, null);
    assert.equal(info.workerPid, 17971);
    for (const name of [
      'pidbox_inspect_active',
      'pidbox_inspect_active_safe',
      'pidbox_inspect_reserved',
    ]) {
      for (const w of reply(name) as Json[])
        assert.deepEqual(encodeRequestInfo(decodeRequestInfo(w)), w, name);
    }
    for (const w of reply('pidbox_inspect_scheduled') as Json[]) {
      const s = decodeScheduledInfo(w);
      assert.equal(s.priority, 6);
      assert.equal(s.eta, '2026-11-25T05:43:48.950929+00:00');
      assert.deepEqual(encodeScheduledInfo(s), w);
    }
    for (const w of reply('pidbox_inspect_active_queues_after_add') as Json[]) {
      const q = decodeQueueInfo(w);
      assert.deepEqual(
        encodeQueueInfo({
          name: q.name,
          exchange: q.exchange.name,
          exchangeType: q.exchange.type,
          routingKey: q.routingKey,
        }),
        w,
      );
    }
    const stats = reply('pidbox_inspect_stats') as Json;
    const s = decodeStats(stats);
    assert.equal(s.clock, '133');
    assert.equal(s.pool.maxConcurrency, 2);
    assert.deepEqual(s.pool.processes, [17971, 18155]);
    assert.equal(s.pool.maxTasksPerChild, 'N/A');
    assert.equal(s.broker.virtualHost, '0');
    assert.equal(s.broker.transport, 'redis');
    assert.equal(s.prefetchCount, 8);
    assert.equal(s.total['tasks.add'], 10);
    assert.ok(s.rusage !== 'N/A' && s.rusage['maxrss'] === 46184);
    assert.deepEqual(encodeStats(s), stats);
    assert.deepEqual(Object.keys(encodeStats(s)), Object.keys(stats));
  });

  void test('hello replies: {id: [timestamp, id]} with float timestamps, and the clock', () => {
    const hello = encodeHelloReply(
      [
        ['a', 1795585449],
        ['b', 930.5],
      ],
      7,
    ) as { revoked: Record<string, [number, string]>; clock: number };
    assert.ok(
      !Number.isInteger(hello.revoked['a']![0]),
      'integral epoch seconds are nudged to read as a Python float',
    );
    assert.deepEqual(hello.revoked['b'], [930.5, 'b']);
    assert.equal(hello.clock, 7);
    const fixture = (repliesOf('pidbox_inspect_hello')[0]!['body_decoded'] as Json)[
      'celery@specworker'
    ] as Json;
    assert.deepEqual(Object.keys(fixture), Object.keys(hello));
  });

  void test('node selection: destination, glob and pcre patterns (kombu match)', () => {
    const base = { method: 'ping', arguments: {}, destination: null, pattern: null, matcher: null };
    assert.ok(requestIsFor(base, 'celery@a'));
    assert.ok(requestIsFor({ ...base, destination: ['celery@a'] }, 'celery@a'));
    assert.ok(!requestIsFor({ ...base, destination: ['celery@b'] }, 'celery@a'));
    const pattern = decodeControlRequest(
      requestsOf('pidbox_control_broadcast_pattern')[0]!['body_decoded'],
    );
    assert.ok(requestIsFor(pattern, 'celery@specworker'));
    assert.ok(!requestIsFor(pattern, 'other@specworker'));
    assert.ok(
      matchNode('celery@specworker', 'spec', 'pcre') === false,
      'pcre is re.match: anchored at the start',
    );
    assert.ok(matchNode('celery@specworker', 'celery@spec', 'pcre'));
    assert.ok(matchNode('celery@host1', 'celery@host?', 'glob'));
    assert.ok(matchNode('celery@host1', 'celery@*', 'glob'));
    assert.ok(!matchNode('celery@host1', 'celery@host', 'glob'), 'glob is a whole-name match');
    assert.ok(matchNode('w1@x', 'w[0-9]@x', 'glob'));
    assert.ok(!matchNode('w1@x', 'w[!0-9]@x', 'glob'));
    assert.ok(!matchNode('a.b', 'a?c', 'glob'));
    assert.equal(globToRegExp('a.b').test('axb'), false);
    assert.ok(!matchNode('x', '(', 'pcre'), 'a bad regex matches nothing');
    assert.ok(!matchNode('x', 'x', 'nope'), 'an unknown matcher matches nothing');
  });
});

/** A fake transport: records the broadcast request and answers from a fixture reply. */
function fakeHost(answer?: (request: Json) => Json | undefined): {
  host: ControlHost;
  requests: Array<{ body: Json; headers: Json; exchange: string; routingKey: string }>;
} {
  const requests: Array<{ body: Json; headers: Json; exchange: string; routingKey: string }> = [];
  let consumer: ConsumeOptions | undefined;
  const transport = {
    kind: 'memory',
    declare: async () => {},
    subscribe: async () => ({ close: async () => {} }),
    purge: async () => 0,
    consume: (o: ConsumeOptions) => {
      consumer = o;
      return { close: async () => {} };
    },
    broadcast: async (exchange: string, routingKey: string, message: WireMessage) => {
      const body = JSON.parse(message.body.toString()) as Json;
      requests.push({ body, headers: message.headers, exchange, routingKey });
      const reply = answer?.(body);
      if (reply && consumer) {
        const delivery = {
          message: {
            body: Buffer.from(JSON.stringify(reply)),
            contentType: 'application/json',
            contentEncoding: 'utf-8',
            headers: { ticket: body['ticket'], clock: 50 },
            properties: {},
          },
          ack: async () => {},
        } as unknown as Delivery;
        setImmediate(() => consumer?.onDelivery(delivery));
      }
    },
  } as unknown as Transport;
  const host: ControlHost = {
    connection: async () => transport,
    oid: '6df08f58-6e45-3363-abcc-de9b6f754b60',
    lamport: new LamportClock(),
    conf: { controlExchange: 'celery' },
  };
  return { host, requests };
}

/** The fixture's request body without the per-call ticket and routing key. */
function expectedRequest(name: string, index = 0): Json {
  const body = { ...(requestsOf(name)[index]!['body_decoded'] as Json) };
  if (body['ticket'] !== undefined) body['ticket'] = '<ticket>';
  if (body['reply_to'] !== undefined)
    body['reply_to'] = { exchange: 'reply.celery.pidbox', routing_key: '<oid>' };
  return body;
}
function normalized(body: Json): Json {
  const out = { ...body };
  if (out['ticket'] !== undefined) out['ticket'] = '<ticket>';
  if (out['reply_to'] !== undefined)
    out['reply_to'] = { ...(out['reply_to'] as Json), routing_key: '<oid>' };
  return out;
}

void describe("Control (app.control) publishes Python's requests", () => {
  const dest = { destination: ['celery@specworker'], timeout: 0.05 };
  const cases: Array<[string, (c: Control) => Promise<unknown>]> = [
    ['pidbox_ping_broadcast', (c) => c.ping({ timeout: 0.05 })],
    ['pidbox_inspect_active', (c) => c.inspect(dest).active()],
    ['pidbox_inspect_active_safe', (c) => c.inspect(dest).active({ safe: true })],
    ['pidbox_inspect_reserved', (c) => c.inspect(dest).reserved()],
    ['pidbox_inspect_scheduled', (c) => c.inspect(dest).scheduled()],
    ['pidbox_inspect_revoked', (c) => c.inspect(dest).revoked()],
    ['pidbox_inspect_registered', (c) => c.inspect(dest).registered()],
    ['pidbox_inspect_stats', (c) => c.inspect(dest).stats()],
    ['pidbox_inspect_active_queues', (c) => c.inspect(dest).activeQueues()],
    ['pidbox_inspect_conf', (c) => c.inspect(dest).conf()],
    ['pidbox_inspect_conf_with_defaults', (c) => c.inspect(dest).conf(true)],
    ['pidbox_inspect_clock', (c) => c.inspect(dest).clock()],
    ['pidbox_inspect_report', (c) => c.inspect(dest).report()],
    [
      'pidbox_inspect_query_task',
      (c) =>
        c
          .inspect(dest)
          .queryTask(
            'c0000000-0000-4000-8000-000000000016',
            'c0000000-0000-4000-8000-000000000018',
          ),
    ],
    [
      'pidbox_inspect_hello',
      (c) =>
        c
          .inspect(dest)
          .hello('other@node', { 'deadbeef-0000-4000-8000-000000000000': 1795585449.1926646 }),
    ],
    [
      'pidbox_control_revoke',
      (c) => c.revoke('c0000000-0000-4000-8000-00000000000d', { reply: true, ...dest }),
    ],
    [
      'pidbox_control_revoke_terminate',
      (c) =>
        c.revoke('c0000000-0000-4000-8000-000000000016', {
          terminate: true,
          signal: 'SIGKILL',
          reply: true,
          ...dest,
        }),
    ],
    [
      'pidbox_control_revoke_many_cast',
      (c) =>
        c.revoke(['c0000000-0000-4000-8000-0000000000f1', 'c0000000-0000-4000-8000-0000000000f2']),
    ],
    [
      'pidbox_control_rate_limit',
      (c) => c.rateLimit('tasks.add', '10/m', { reply: true, ...dest }),
    ],
    [
      'pidbox_control_time_limit',
      (c) => c.timeLimit('tasks.add', { soft: 10, hard: 20 }, { reply: true, ...dest }),
    ],
    ['pidbox_control_add_consumer', (c) => c.addConsumer('extra', { reply: true, ...dest })],
    ['pidbox_control_cancel_consumer', (c) => c.cancelConsumer('extra', { reply: true, ...dest })],
    ['pidbox_control_pool_restart', (c) => c.poolRestart({ reply: true, ...dest })],
    ['pidbox_control_enable_events', (c) => c.enableEvents({ reply: true, ...dest })],
    ['pidbox_control_heartbeat', (c) => c.heartbeat({ reply: true, ...dest })],
    ['pidbox_control_shutdown', (c) => c.shutdown({ reply: true, ...dest })],
    [
      'pidbox_control_broadcast_pattern',
      (c) =>
        c.broadcast('ping', {
          reply: true,
          timeout: 0.05,
          pattern: 'celery@spec.*',
          matcher: 'pcre',
        }),
    ],
    [
      'pidbox_inspect_unknown_command',
      (c) => c.broadcast('no_such_command', { reply: true, ...dest }),
    ],
  ];
  for (const [name, call] of cases) {
    void test(name, async () => {
      const replies = repliesOf(name);
      const { host, requests } = fakeHost(() => replies[0]?.['body_decoded'] as Json | undefined);
      const before = Date.now() / 1000;
      await call(new Control(host));
      assert.equal(requests.length, 1);
      const { body, headers, exchange, routingKey } = requests[0]!;
      assert.equal(exchange, 'celery.pidbox');
      assert.equal(routingKey, '');
      assert.deepEqual(normalized(body), expectedRequest(name));
      assert.deepEqual(Object.keys(body), Object.keys(expectedRequest(name)));
      assert.deepEqual(Object.keys(headers), ['clock', 'expires']);
      assert.ok(
        typeof headers['expires'] === 'number' && headers['expires'] >= before,
        'expires = now + timeout',
      );
      if (body['reply_to']) assert.equal((body['reply_to'] as Json)['routing_key'], host.oid);
    });
  }

  void test('replies are collected by ticket, decoded by node; the reply clock is merged', async () => {
    const { host } = fakeHost(() => repliesOf('pidbox_inspect_active')[0]!['body_decoded'] as Json);
    const control = new Control(host);
    const active = await control
      .inspect({ destination: ['celery@specworker'], timeout: 2 })
      .active();
    const list = active['celery@specworker'];
    assert.ok(Array.isArray(list));
    assert.equal(list[0]!.id, 'c0000000-0000-4000-8000-000000000017');
    assert.ok(host.lamport.value >= 51, 'merged the reply clock (50)');
  });

  void test('errors stay errors; limit stops waiting early; a reply to another ticket is ignored', async () => {
    const { host } = fakeHost(() => ({
      'celery@specworker': { error: "KeyError('no_such_command')" },
    }));
    const started = Date.now();
    const byNode = await new Control(host)
      .inspect({ destination: ['celery@specworker'], timeout: 10 })
      .request('no_such_command');
    assert.deepEqual(byNode, { 'celery@specworker': { error: "KeyError('no_such_command')" } });
    assert.ok(Date.now() - started < 5000, 'stopped at the limit of one destination');
    const other = fakeHost(() => ({ x: 1 }));
    const transport = await other.host.connection();
    const origBroadcast = transport.broadcast.bind(transport);
    transport.broadcast = async (e, r, m) => {
      const body = JSON.parse(m.body.toString()) as Json;
      body['ticket'] = 'someone-else';
      await origBroadcast(e, r, { ...m, body: Buffer.from(JSON.stringify(body)) });
    };
    assert.deepEqual(await new Control(other.host).ping({ timeout: 0.05 }), []);
  });
});

/** Python writes integral floats as `3.0`; a JS number cannot say so. */
function jsSpelling(pythonJson: string): string {
  return pythonJson.replace(/(\d)\.0(?=[,\]}])/g, '$1');
}
