/**
 * Events against the captured Celery 5.2.6 fixtures: every published event decodes, and what
 * celeriac encodes from it is Python's object field for field, in Python's order, and byte for
 * byte once Python's integral floats (`2.0`) are written as JS writes them. The dispatcher's
 * messages (headers, delivery mode, routing keys, task.multi lists), the receiver's clock and
 * timestamp handling, and `celery events --dump` lines are checked against Python's.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LamportClock } from '../../src/events/clock.js';
import { EventDispatcher } from '../../src/events/dispatcher.js';
import { EventDumper, humanizeType, utcDatetimeString } from '../../src/events/dumper.js';
import { EventReceiver } from '../../src/events/receiver.js';
import {
  decodeEvent,
  decodeEventBody,
  encodeEvent,
  eventRoutingKey,
  utcOffsetHoursWest,
  type CeleryEvent,
} from '../../src/protocol/event.js';
import { decodeEnvelope, envelopeObject } from '../../src/protocol/kombu-envelope.js';
import type { WireMessage } from '../../src/protocol/types.js';
import { pyDumps } from '../../src/serialization/json.js';
import type { Transport } from '../../src/transport/types.js';
import { loadFixture } from '../support/fixtures.js';

type Json = Record<string, unknown>;

/** Python writes integral floats as `2.0`; a JS number cannot say so. */
function jsSpelling(pythonJson: string): string {
  return pythonJson.replace(/(\d)\.0(?=[,\]}])/g, '$1');
}

/** Every Redis PUBLISH of the event fixtures: [file, channel, raw envelope]. */
function publishes(): Array<{ file: string; channel: string; raw: string }> {
  const out: Array<{ file: string; channel: string; raw: string }> = [];
  for (const file of ['events_redis', 'events_redis_extended_run']) {
    for (const p of loadFixture(file)['all_publishes_in_order'] as Json[]) {
      out.push({ file, channel: String(p['channel']), raw: String(p['raw']) });
    }
  }
  const sent = loadFixture('task_sent_event')['publishes'] as Json[];
  for (const p of sent)
    out.push({ file: 'task_sent_event', channel: String(p['channel']), raw: String(p['raw']) });
  return out;
}

/** A transport that records broadcasts. */
function recordingTransport(): {
  transport: Transport;
  sent: Array<{ exchange: string; routingKey: string; message: WireMessage }>;
} {
  const sent: Array<{ exchange: string; routingKey: string; message: WireMessage }> = [];
  const transport = {
    kind: 'memory',
    broadcast: async (exchange: string, routingKey: string, message: WireMessage) => {
      sent.push({ exchange, routingKey, message });
    },
  } as unknown as Transport;
  return { transport, sent };
}

void describe('event codec against the fixtures', () => {
  const all = publishes();

  void test('the fixtures hold every event type Python sent', () => {
    const types = new Set<string>();
    for (const p of all) {
      const body = JSON.parse(decodeEnvelope(p.raw).message.body.toString('utf8')) as unknown;
      for (const e of Array.isArray(body) ? body : [body]) types.add(String((e as Json)['type']));
    }
    for (const t of [
      'task-sent',
      'task-received',
      'task-started',
      'task-succeeded',
      'task-failed',
      'task-retried',
      'task-revoked',
      'task-rejected',
      'worker-online',
      'worker-heartbeat',
      'worker-offline',
    ]) {
      assert.ok(types.has(t), t);
    }
  });

  void test('every published event decodes and re-encodes to the same object, keys in order', () => {
    let count = 0;
    for (const p of all) {
      const text = decodeEnvelope(p.raw).message.body.toString('utf8');
      const body = JSON.parse(text) as unknown;
      const events = decodeEventBody(body);
      const originals = Array.isArray(body) ? (body as Json[]) : [body as Json];
      assert.equal(events.length, originals.length, `${p.file} ${p.channel}`);
      events.forEach((e, i) => {
        const encoded = encodeEvent(e);
        assert.deepEqual(encoded, originals[i]);
        assert.deepEqual(
          Object.keys(encoded),
          Object.keys(originals[i]!),
          `${p.file}: key order of ${e.type}`,
        );
        count++;
      });
      const again = Array.isArray(body) ? events.map(encodeEvent) : encodeEvent(events[0]!);
      assert.equal(pyDumps(again), jsSpelling(text), `${p.file} ${p.channel}: bytes`);
    }
    assert.ok(count > 150, `only ${count} events`);
  });

  void test('the channel is the routing key: task.multi for worker task events (lists), worker.* and task.sent single', () => {
    for (const p of all) {
      const decoded = decodeEnvelope(p.raw);
      const body = JSON.parse(decoded.message.body.toString('utf8')) as unknown;
      assert.equal(p.channel, `/0.celeryev/${decoded.routingKey}`);
      assert.equal(decoded.exchange, 'celeryev');
      assert.deepEqual(Object.keys(decoded.message.headers), ['hostname']);
      assert.equal(decoded.message.properties.deliveryMode, 1);
      if (Array.isArray(body)) assert.equal(decoded.routingKey, 'task.multi');
      else assert.equal(decoded.routingKey, eventRoutingKey(String((body as Json)['type'])));
    }
  });

  void test('typed fields: task-received, task-succeeded, task-failed, task-revoked, worker-heartbeat', () => {
    const first = loadFixture('events_redis')['first_of_each_type'] as Record<string, Json>;
    const received = decodeEvent(first['task-received']!['event']);
    assert.equal(received.group, 'task');
    if (received.group !== 'task') return;
    assert.equal(received.uuid, 'c0000000-0000-4000-8000-000000000001');
    assert.equal(received.name, 'tasks.add');
    assert.equal(received.args, '(2, 3)');
    assert.equal(received.kwargs, '{}');
    assert.equal(received.rootId, 'c0000000-0000-4000-8000-000000000001');
    assert.equal(received.parentId, null);
    assert.equal(received.retries, 0);
    assert.equal(received.eta, null);
    assert.equal(received.hostname, 'celery@specworker');
    assert.equal(received.clock, 13);
    assert.equal(received.pid, 17964);
    assert.deepEqual(received.extra, {});
    const ok = decodeEvent(first['task-succeeded']!['event']);
    assert.ok(ok.group === 'task' && ok.result === '5' && ok.runtime === 0.025065560999905756);
    const failed = decodeEvent(first['task-failed']!['event']);
    assert.ok(failed.group === 'task' && failed.exception === "ValueError('boom')");
    assert.match(failed.group === 'task' ? (failed.traceback ?? '') : '', /ValueError: boom/);
    const revoked = decodeEvent(first['task-revoked']!['event']);
    assert.ok(revoked.group === 'task');
    if (revoked.group === 'task') {
      assert.equal(revoked.terminated, false);
      assert.equal(revoked.signum, null);
      assert.equal(revoked.expired, true);
    }
    const hb = decodeEvent(first['worker-heartbeat']!['event']);
    assert.equal(hb.group, 'worker');
    if (hb.group === 'worker') {
      assert.equal(hb.freq, 2);
      assert.equal(hb.active, 0);
      assert.equal(hb.processed, 0);
      assert.deepEqual(hb.loadavg, [0.57, 0.63, 0.47]);
      assert.equal(hb.swIdent, 'py-celery');
      assert.equal(hb.swVer, '5.2.6');
      assert.equal(hb.swSys, 'Linux');
    }
  });

  void test('what a Python receiver saw (local_received added) decodes and re-encodes the same', () => {
    for (const [file, key] of [
      ['events_python_receiver', 'events'],
      ['amqp_events', 'python_receiver_events'],
    ] as const) {
      for (const original of loadFixture(file)[key] as Json[]) {
        const e = decodeEvent(original);
        assert.equal(e.localReceived, original['local_received']);
        assert.deepEqual(encodeEvent(e), original);
      }
    }
  });

  void test('AMQP event bodies (topic exchange) decode like Redis ones', () => {
    for (const m of loadFixture('amqp_events')['messages'] as Json[]) {
      const text = String(m['body_raw_utf8']);
      const body = JSON.parse(text) as unknown;
      const events = decodeEventBody(body);
      const again = Array.isArray(body) ? events.map(encodeEvent) : encodeEvent(events[0]!);
      assert.equal(pyDumps(again), jsSpelling(text));
      const rk = String((m['delivery_info'] as Json)['routing_key']);
      assert.equal(rk, Array.isArray(body) ? 'task.multi' : eventRoutingKey(events[0]!.type));
    }
  });

  void test('unknown fields and custom event types survive', () => {
    const e = decodeEvent({
      hostname: 'x@y',
      clock: 3,
      custom_field: [1],
      timestamp: 1.5,
      type: 'custom-thing',
      utcoffset: 0,
      pid: 1,
    });
    assert.equal(e.group, 'other');
    assert.deepEqual(e.extra, { custom_field: [1] });
    assert.deepEqual(encodeEvent(e), {
      hostname: 'x@y',
      utcoffset: 0,
      pid: 1,
      clock: 3,
      custom_field: [1],
      timestamp: 1.5,
      type: 'custom-thing',
    });
    const t = decodeEvent({
      hostname: 'x@y',
      uuid: 'u',
      shadow: 'n',
      timestamp: 2.5,
      type: 'task-cancelled',
    });
    assert.ok(t.group === 'task' && t.uuid === 'u');
    assert.deepEqual(t.extra, { shadow: 'n' });
    assert.deepEqual(decodeEventBody([{ type: 'task-started', uuid: 'a' }, 'junk', 42]).length, 1);
    assert.throws(() => decodeEvent({ hostname: 'x' }), /no "type"/);
  });

  void test('utcoffset is hours WEST of UTC', () => {
    const d = new Date();
    assert.equal(utcOffsetHoursWest(d), Math.floor(d.getTimezoneOffset() / 60));
    assert.equal(utcOffsetHoursWest({ getTimezoneOffset: () => -120 } as Date), -2);
    assert.equal(utcOffsetHoursWest({ getTimezoneOffset: () => 300 } as Date), 5);
  });
});

void describe('EventDispatcher', () => {
  const now = 1795585402693.9669;

  void test('task events are buffered and published as one task.multi list; worker events one by one', async () => {
    const { transport, sent } = recordingTransport();
    const clock = new LamportClock(12);
    const d = new EventDispatcher({
      connection: async () => transport,
      hostname: 'celery@specworker',
      clock,
      pid: 17964,
      now: () => now,
      bufferGroups: ['task'],
    });
    d.sendTask('task-received', {
      uuid: 'c0000000-0000-4000-8000-000000000001',
      name: 'tasks.add',
      args: '(2, 3)',
      kwargs: '{}',
      rootId: 'c0000000-0000-4000-8000-000000000001',
      parentId: null,
      retries: 0,
      eta: null,
      expires: null,
    });
    d.sendTask('task-started', { uuid: 'c0000000-0000-4000-8000-000000000001' });
    d.sendWorker('worker-heartbeat', {
      freq: 2,
      active: 1,
      processed: 0,
      loadavg: [0.1, 0.2, 0.3],
      swIdent: 'celeriac',
      swVer: '0.1.0',
      swSys: 'Linux',
    });
    await d.flush();
    assert.deepEqual(
      sent.map((s) => [s.exchange, s.routingKey]),
      [
        ['celeryev', 'worker.heartbeat'],
        ['celeryev', 'task.multi'],
      ],
    );
    const multi = JSON.parse(sent[1]!.message.body.toString()) as Json[];
    const expected = (loadFixture('events_redis')['first_of_each_type'] as Record<string, Json>)[
      'task-received'
    ]!['event'] as Json;
    assert.deepEqual(multi[0], { ...expected, utcoffset: utcOffsetHoursWest(new Date(now)) });
    assert.deepEqual(Object.keys(multi[0]), Object.keys(expected));
    assert.equal(multi[1]!['clock'], 14);
    assert.deepEqual(sent[1]!.message.headers, { hostname: 'celery@specworker' });
    assert.equal(sent[1]!.message.properties.deliveryMode, 1);
    assert.equal(sent[1]!.message.contentType, 'application/json');
    // The Redis envelope built from it has the fixture's shape.
    const env = envelopeObject(sent[1]!.message, {
      exchange: 'celeryev',
      routingKey: 'task.multi',
      deliveryTag: 't',
    });
    const fixtureEnv = (loadFixture('events_redis')['first_of_each_type'] as Record<string, Json>)[
      'task-received'
    ]!;
    const fixtureObj = JSON.parse(String(fixtureEnv['envelope_raw'])) as Json;
    assert.deepEqual(Object.keys(env), Object.keys(fixtureObj));
    assert.deepEqual(
      Object.keys(env['properties'] as Json),
      Object.keys(fixtureObj['properties'] as Json),
    );
    assert.equal(clock.value, 15);
  });

  void test('a full buffer goes out at once; groups can be switched off and on', async () => {
    const { transport, sent } = recordingTransport();
    const d = new EventDispatcher({
      connection: async () => transport,
      hostname: 'w@h',
      clock: new LamportClock(),
      groups: ['worker'],
      bufferGroups: ['task'],
      bufferLimit: 2,
    });
    d.sendTask('task-started', { uuid: 'a' });
    assert.equal(d.sends('task'), false);
    assert.equal(d.enableGroup('task'), true);
    assert.equal(d.enableGroup('task'), false);
    d.sendTask('task-started', { uuid: 'b' });
    d.sendTask('task-started', { uuid: 'c' });
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(sent.length, 1, 'flushed when the limit was reached');
    assert.deepEqual(
      (JSON.parse(sent[0]!.message.body.toString()) as Json[]).map((e) => e['uuid']),
      ['b', 'c'],
    );
    assert.equal(d.disableGroup('task'), true);
    assert.equal(d.disableGroup('task'), false);
    d.sendTask('task-started', { uuid: 'd' });
    await d.close();
    assert.equal(sent.length, 1);
  });

  void test('publish errors are reported, never thrown', async () => {
    const errors: Error[] = [];
    const d = new EventDispatcher({
      connection: async () => {
        throw new Error('down');
      },
      hostname: 'w@h',
      clock: new LamportClock(),
      onError: (e) => errors.push(e),
    });
    d.sendWorker('worker-online', { freq: 2 });
    await d.flush();
    assert.deepEqual(
      errors.map((e) => e.message),
      ['down'],
    );
  });
});

void describe('EventReceiver', () => {
  function message(body: unknown): WireMessage {
    return {
      body: Buffer.from(JSON.stringify(body)),
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: {},
      properties: {},
    };
  }

  void test('single events and task.multi lists; clocks merged; task-sent gets the receiver clock', () => {
    const clock = new LamportClock(100);
    const got: CeleryEvent[] = [];
    const r = new EventReceiver({
      transport: {} as Transport,
      clock,
      onEvent: (e) => got.push(e),
      now: () => 5000,
      localize: false,
    });
    r.handleMessage(
      message([
        { type: 'task-started', uuid: 'a', clock: 150, timestamp: 1, utcoffset: 0, hostname: 'w' },
        {
          type: 'task-succeeded',
          uuid: 'a',
          clock: 151,
          timestamp: 2,
          utcoffset: 0,
          hostname: 'w',
          result: '1',
        },
      ]),
    );
    assert.equal(clock.value, 152);
    r.handleMessage(
      message({ type: 'task-sent', uuid: 'b', clock: 3, timestamp: 3, hostname: 'gen1@h' }),
    );
    assert.equal(got[2]!.clock, 151, 'task-sent: the receiver clock minus one (CLIENT_CLOCK_SKEW)');
    r.handleMessage(message({ type: 'worker-heartbeat', timestamp: 4, hostname: 'w', freq: 2 }));
    assert.equal(got[3]!.clock, 154, 'no clock: the receiver moves its own');
    assert.deepEqual(
      got.map((e) => e.type),
      ['task-started', 'task-succeeded', 'task-sent', 'worker-heartbeat'],
    );
    assert.ok(got.every((e) => e.localReceived === 5));
  });

  void test('timestamps are shifted by the sender utcoffset as Celery localizes them', () => {
    const here = utcOffsetHoursWest(new Date(0));
    const got: CeleryEvent[] = [];
    const r = new EventReceiver({
      transport: {} as Transport,
      clock: new LamportClock(),
      onEvent: (e) => got.push(e),
      now: () => 0,
    });
    r.handleMessage(
      message({
        type: 'worker-online',
        timestamp: 100000,
        utcoffset: here + 2,
        hostname: 'w',
        freq: 2,
        clock: 1,
      }),
    );
    assert.equal(got[0]!.timestamp, 100000 - 2 * 3600);
  });

  void test('unreadable messages are reported', () => {
    const errors: Error[] = [];
    const r = new EventReceiver({
      transport: {} as Transport,
      clock: new LamportClock(),
      onEvent: () => {},
      onError: (e) => errors.push(e),
    });
    r.handleMessage({ ...message(1), contentType: 'application/x-python-serialize' });
    assert.equal(errors.length, 1);
  });
});

void describe('EventDumper (celery events --dump)', () => {
  // Expected lines: Celery 5.2.6's Dumper run on the same events (events_python_receiver).
  const expected = [
    'celery@specworker [2026-11-25 05:43:19.178905] heartbeat: clock=6, freq=5, local_received=1795585399.1800253, pid=17964, sw_ident=py-celery, sw_sys=Linux, sw_ver=5.2.6, utcoffset=0',
    'gen17956@vm [2026-11-25 05:43:22.690326] task sent: tasks.add(c0000000-0000-4000-8000-000000000001) args=(2, 3) kwargs={} clock=12, eta=None, exchange=, expires=None, local_received=1795585402.6914496, parent_id=None, pid=17956, queue=celery, retries=0, root_id=c0000000-0000-4000-8000-000000000001, routing_key=celery, utcoffset=0',
    'celery@specworker [2026-11-25 05:43:22.693967] task received: tasks.add(c0000000-0000-4000-8000-000000000001) args=(2, 3) kwargs={} clock=13, eta=None, expires=None, local_received=1795585402.6960428, parent_id=None, pid=17964, retries=0, root_id=c0000000-0000-4000-8000-000000000001, utcoffset=0',
    'celery@specworker [2026-11-25 05:43:22.699643] task started: tasks.add(c0000000-0000-4000-8000-000000000001) args=(2, 3) kwargs={} clock=14, local_received=1795585402.7047048, pid=17964, utcoffset=0',
    'celery@specworker [2026-11-25 05:43:22.728721] task succeeded: tasks.add(c0000000-0000-4000-8000-000000000001) args=(2, 3) kwargs={} clock=15, local_received=1795585402.7299235, pid=17964, result=5, runtime=0.025065560999905756, utcoffset=0',
  ];

  void test('prints what Celery prints for the same events', () => {
    const events = (loadFixture('events_python_receiver')['events'] as Json[]).map(decodeEvent);
    const dumper = new EventDumper();
    const lines = [events[0]!, ...events.slice(3, 7)].map((e) => dumper.format(e));
    assert.deepEqual(lines, expected);
  });

  void test('heartbeats with a float freq print it as JS can (2, not 2.0)', () => {
    const e = decodeEvent((loadFixture('events_python_receiver')['events'] as Json[])[1]);
    assert.match(
      new EventDumper().format(e),
      /^celery@specworker \[2026-11-25 05:43:20\.585530\] heartbeat: active=0, clock=8, freq=2, loadavg=\[0\.57, 0\.63, 0\.47\], /,
    );
  });

  void test('helpers', () => {
    assert.equal(humanizeType('worker-online'), 'started');
    assert.equal(humanizeType('worker-offline'), 'shutdown');
    assert.equal(humanizeType('task-failed'), 'task failed');
    assert.equal(utcDatetimeString(1795585396), '2026-11-25 05:43:16');
    assert.equal(utcDatetimeString(1795585396.5), '2026-11-25 05:43:16.500000');
  });
});
