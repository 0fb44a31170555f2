import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EncodeError } from '../../src/errors.js';
import { signatureFromWire } from '../../src/protocol/signature.js';
import {
  decodeTaskMessage,
  encodeTaskMessage,
  newTaskMessage,
} from '../../src/protocol/task-message.js';
import { parseIsoDate } from '../../src/protocol/time.js';
import type { SignatureData, TaskMessage, WireMessage } from '../../src/protocol/types.js';
import {
  decompress,
  deserialize,
  jsonLoads,
  normalizeAccept,
  pyDumps,
} from '../../src/serialization/index.js';
import {
  fixtureMessages,
  fixtureNames,
  isTaskMessage,
  wireFromRedisEnvelope,
  withMsgpackBins,
  type FixtureMessage,
  type Json,
} from '../support/fixtures.js';

const ACCEPT = normalizeAccept(['json', 'msgpack']);

function message(file: string, index = 0): FixtureMessage {
  const m = fixtureMessages(file)[index];
  assert.ok(m, `${file}[${index}]`);
  return m;
}

function sig(task: string, args: unknown[], options: Json = {}, immutable = false): SignatureData {
  return { task, args, kwargs: {}, options, subtaskType: null, immutable };
}

/** The body we wrote, decoded (decompressed first if needed). */
function bodyOf(w: WireMessage): unknown {
  const compression = w.headers['compression'];
  const bytes = typeof compression === 'string' ? decompress(w.body, compression) : w.body;
  return deserialize(bytes, w.contentType, w.contentEncoding, ACCEPT);
}

/**
 * Compares what we encoded with what Python sent: headers equal and in the same order,
 * body equal (and, written Python-style, byte-identical), properties equal.
 */
function assertSameAsPython(ours: WireMessage, m: FixtureMessage): void {
  const where = `${m.file}[${m.index}]`;
  assert.deepEqual(ours.headers, m.envelope.headers, where);
  assert.deepEqual(
    Object.keys(ours.headers),
    Object.keys(m.envelope.headers),
    `${where}: header order`,
  );
  assert.equal(ours.contentType, m.envelope['content-type'], where);
  assert.equal(ours.contentEncoding, m.envelope['content-encoding'], where);
  const body = bodyOf(ours);
  if (ours.contentType === 'application/x-msgpack') {
    // equals(), not deepEqual: msgpackr caches a `dataView` property on buffers it decoded.
    assert.ok(ours.body.equals(Buffer.from(m.envelope.body, 'base64')), `${where}: msgpack bytes`);
    assert.deepEqual(body, withMsgpackBins(m.bodyDecoded), where);
  } else {
    assert.deepEqual(body, m.bodyDecoded, where);
    if (ours.headers['compression'] === undefined) {
      let expected = Buffer.from(m.envelope.body, 'base64').toString('utf8');
      // The one value JS cannot keep: Python's float 1.0 arrives as the number 1.
      if (m.file === 'task_json_types') expected = expected.replace(', 1.0, ', ', 1, ');
      assert.equal(pyDumps(body), expected, `${where}: body bytes`);
    }
  }
  assert.equal(ours.body.length > 0, true);
  const p = m.envelope.properties;
  assert.equal(ours.properties.correlationId, p['correlation_id'], where);
  assert.equal(ours.properties.replyTo, p['reply_to'], where);
  assert.equal(ours.properties.deliveryMode, p['delivery_mode'], where);
  assert.equal(ours.properties.expiration, p['expiration'], where);
  // Priority 0 is kombu's default, added by the transport when none is given.
  assert.equal(ours.properties.priority ?? 0, p['priority'] ?? 0, where);
}

/** Fields Python chose at random (or from "now") for this message, to feed our builder. */
function randomFields(m: FixtureMessage): Partial<TaskMessage> & { id: string; task: string } {
  const h = m.envelope.headers;
  return {
    id: String(h['id']),
    task: String(h['task']),
    origin: String(h['origin']),
    replyTo: String(m.envelope.properties['reply_to']),
  };
}

/** `now` as the producer saw it, recovered from the expiration property. */
function nowOf(m: FixtureMessage): number | undefined {
  const expiration = m.envelope.properties['expiration'];
  const expires = m.envelope.headers['expires'];
  if (typeof expiration !== 'string' || typeof expires !== 'string') return undefined;
  // Pick the instant that makes Python's truncated milliseconds come out the same.
  return parseIsoDate(expires) - Number(expiration) - 0.0005;
}

void describe('encoding the same calls as the Python fixtures', () => {
  void test('task_plain: echo.apply_async(args=(1, "two", [3], {"four": 4}), kwargs=...)', () => {
    const m = message('task_plain');
    const msg = newTaskMessage({
      ...randomFields(m),
      args: [1, 'two', [3], { four: 4 }],
      kwargs: { five: 5.5, six: null, seven: true },
    });
    assert.equal(msg.argsrepr, "(1, 'two', [3], {'four': 4})");
    assert.equal(msg.kwargsrepr, "{'five': 5.5, 'six': None, 'seven': True}");
    assertSameAsPython(encodeTaskMessage(msg), m);
  });

  void test('task_send_task_by_name: send_task("tasks.add", args=[2, 3])', () => {
    const m = message('task_send_task_by_name');
    const msg = newTaskMessage({ ...randomFields(m), args: [2, 3] });
    // Python passed a list, so its argsrepr is list-style; JS args are always a tuple.
    assert.equal(msg.argsrepr, '(2, 3)');
    assert.equal(m.envelope.headers['argsrepr'], '[2, 3]');
    assertSameAsPython(encodeTaskMessage({ ...msg, argsrepr: '[2, 3]' }), m);
  });

  void test('task_countdown_expires: countdown=60, expires=120 (expiration "120000")', () => {
    const m = message('task_countdown_expires');
    const now = parseIsoDate(String(m.envelope.headers['eta'])) - 60_000;
    const msg = newTaskMessage({
      ...randomFields(m),
      args: [1, 2],
      eta: now + 60_000,
      expires: now + 120_000,
    });
    const ours = encodeTaskMessage(msg, { now });
    assert.equal(ours.properties.expiration, '120000');
    assertSameAsPython(ours, m);
  });

  void test('task_eta_datetime: aware eta with microseconds', () => {
    const m = message('task_eta_datetime');
    const eta = parseIsoDate('2030-01-02T03:04:05.678901+00:00');
    const msg = newTaskMessage({ ...randomFields(m), args: [1, 2], eta, expires: eta + 3_600_000 });
    assertSameAsPython(encodeTaskMessage(msg, { now: nowOf(m)! }), m);
  });

  void test('task_options_misc: time limits [hard, soft], shadow, custom header, ignore_result', () => {
    const m = message('task_options_misc');
    const msg = newTaskMessage({
      ...randomFields(m),
      args: [1, 2],
      timeLimit: [30, 20],
      shadow: 'custom.shadow.name',
      extraHeaders: { 'x-custom': 'value' },
      ignoreResult: true,
    });
    assertSameAsPython(encodeTaskMessage(msg), m);
  });

  void test('task_priority: priorities go in the properties', () => {
    for (const [index, priority] of [
      [0, 5],
      [1, 9],
      [2, 0],
      [3, 2],
    ] as const) {
      const m = message('task_priority', index);
      const ours = encodeTaskMessage(
        newTaskMessage({ ...randomFields(m), args: [1, 2], priority }),
      );
      assert.equal(ours.properties.priority, priority);
      assertSameAsPython(ours, m);
    }
  });

  void test('task_link_link_error: link=[mul.s(10), add.si(100, 100)], link_error=on_error.s()', () => {
    const m = message('task_link_link_error');
    const msg = newTaskMessage({
      ...randomFields(m),
      args: [2, 2],
      embed: {
        callbacks: [sig('tasks.mul', [10]), sig('tasks.add', [100, 100], {}, true)],
        errbacks: [sig('tasks.on_error', [])],
        chain: null,
        chord: null,
      },
    });
    assertSameAsPython(encodeTaskMessage(msg), m);
  });

  void test('canvas_chain3: the rest of the chain, reversed, with pre-assigned task ids', () => {
    const m = message('canvas_chain3');
    const wireChain = ((m.bodyDecoded as unknown[])[2] as Json)['chain'] as Json[];
    const replyTo = String(m.envelope.properties['reply_to']);
    const taskIds = wireChain.map((s) => String((s['options'] as Json)['task_id']));
    const msg = newTaskMessage({
      ...randomFields(m),
      args: [1, 2],
      embed: {
        callbacks: null,
        errbacks: null,
        chain: [
          sig('tasks.mul', [4], { task_id: taskIds[0], reply_to: replyTo }),
          sig('tasks.add', [3], { task_id: taskIds[1], reply_to: replyTo }),
        ],
        chord: null,
      },
    });
    assertSameAsPython(encodeTaskMessage(msg), m);
  });

  void test('canvas_group3 and canvas_chord3: group id, group_index null vs 0..n-1, chord body', () => {
    for (const m of fixtureMessages('canvas_group3')) {
      const h = m.envelope.headers;
      const i = m.index;
      const msg = newTaskMessage({ ...randomFields(m), args: [i, i], group: String(h['group']) });
      assertSameAsPython(encodeTaskMessage(msg), m);
    }
    for (const m of fixtureMessages('canvas_chord3')) {
      const h = m.envelope.headers;
      const body = signatureFromWire(((m.bodyDecoded as unknown[])[2] as Json)['chord']);
      const i = m.index;
      const msg = newTaskMessage({
        ...randomFields(m),
        args: [i, i],
        group: String(h['group']),
        groupIndex: i,
        embed: { callbacks: null, errbacks: null, chain: null, chord: body },
      });
      assertSameAsPython(encodeTaskMessage(msg), m);
    }
  });

  void test('task_msgpack: serializer="msgpack" gives Python\'s exact bytes', () => {
    const m = message('task_msgpack');
    const msg = newTaskMessage({
      ...randomFields(m),
      args: [1, 'two', Buffer.from('bytes!')],
      kwargs: { k: 1.5 },
    });
    assert.equal(msg.argsrepr, "(1, 'two', b'bytes!')");
    assertSameAsPython(encodeTaskMessage(msg, { serializer: 'msgpack' }), m);
  });

  void test('task_compressed_zlib / gzip alias: compression header application/x-gzip, last', () => {
    for (const [file, name] of [
      ['task_compressed_zlib', 'zlib'],
      ['task_compressed_gzip_alias', 'gzip'],
    ] as const) {
      const m = message(file);
      const msg = newTaskMessage({
        ...randomFields(m),
        args: [(m.bodyDecoded as unknown[][])[0]![0]],
      });
      const ours = encodeTaskMessage(msg, { compression: name });
      assert.equal(ours.body[0], 0x78);
      assertSameAsPython(ours, m);
    }
  });

  void test('worker_task_retry: the re-sent message (retries 1, parent_id = own id, eta)', () => {
    const first = message('worker_task_retry', 0);
    const retried = message('worker_task_retry', 1);
    const original = decodeTaskMessage(wireFromRedisEnvelope(first.envelope), ACCEPT);
    const h = retried.envelope.headers;
    const retry: TaskMessage = {
      ...original,
      retries: original.retries + 1,
      eta: parseIsoDate(String(h['eta'])),
      parentId: original.id,
      origin: String(h['origin']),
    };
    const ours = encodeTaskMessage(retry);
    assert.deepEqual(ours.headers, h);
    assert.deepEqual(Object.keys(ours.headers), Object.keys(h));
  });
});

void describe('every captured protocol-2 message re-encodes to what Python sent', () => {
  for (const m of fixtureNames()
    .flatMap((f) => fixtureMessages(f))
    .filter(isTaskMessage)) {
    const type = m.envelope['content-type'];
    if (
      typeof m.envelope.headers['task'] !== 'string' ||
      type === 'application/x-python-serialize' ||
      type === 'application/x-yaml'
    ) {
      continue;
    }
    void test(`${m.file}[${m.index}]`, () => {
      const decoded = decodeTaskMessage(wireFromRedisEnvelope(m.envelope), ACCEPT);
      const compression = m.envelope.headers['compression'] === undefined ? undefined : 'zlib';
      const ours = encodeTaskMessage(decoded, {
        serializer: type === 'application/x-msgpack' ? 'msgpack' : 'json',
        compression,
        ...(nowOf(m) === undefined ? {} : { now: nowOf(m)! }),
      });
      assertSameAsPython(ours, m);
    });
  }
});

void describe('encoder details', () => {
  void test('the body always has 3 elements, even with an empty embed', () => {
    const ours = encodeTaskMessage(newTaskMessage({ id: 'i', task: 't' }));
    assert.equal((jsonLoads(ours.body) as unknown[]).length, 3);
    assert.deepEqual(Object.keys(ours.headers).slice(0, 3), ['lang', 'task', 'id']);
    assert.equal(ours.headers['root_id'], 'i');
    assert.equal(ours.headers['lang'], 'py');
  });

  void test('user headers cannot overwrite celery headers', () => {
    const ours = encodeTaskMessage(
      newTaskMessage({ id: 'i', task: 't', extraHeaders: { id: 'evil', 'x-a': 1 } }),
    );
    assert.equal(ours.headers['id'], 'i');
    assert.equal(ours.headers['x-a'], 1);
  });

  void test('an expiry in the past gives expiration "0"', () => {
    const ours = encodeTaskMessage(newTaskMessage({ id: 'i', task: 't', expires: 1000 }), {
      now: 5000,
    });
    assert.equal(ours.properties.expiration, '0');
  });

  void test('argsrepr is truncated at 1024 characters as Celery does', () => {
    const msg = newTaskMessage({ id: 'i', task: 't', args: ['x'.repeat(2000)] });
    assert.equal(msg.argsrepr, `('${'x'.repeat(1023)}...', ...`);
  });

  void test('unserializable arguments are named by their place in the call', () => {
    const msg = newTaskMessage({
      id: 'i',
      task: 'tasks.add',
      args: [1, () => 2],
      kwargs: { when: new Map() },
    });
    assert.throws(
      () => encodeTaskMessage(msg),
      (e: unknown) =>
        e instanceof EncodeError &&
        e.message ===
          "cannot encode task 'tasks.add': args[1]: functions cannot be serialized to JSON",
    );
    const kw = newTaskMessage({ id: 'i', task: 'tasks.add', kwargs: { when: new Map() } });
    assert.throws(
      () => encodeTaskMessage(kw),
      /cannot encode task 'tasks\.add': kwargs\.when: a Map cannot be serialized/,
    );
  });

  void test('pickle is refused with the reason', () => {
    assert.throws(
      () => encodeTaskMessage(newTaskMessage({ id: 'i', task: 't' }), { serializer: 'pickle' }),
      (e: unknown) =>
        e instanceof EncodeError &&
        /refuses to produce pickle/.test(e.message) &&
        e.hint !== undefined,
    );
  });
});
