import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { MessageMalformedError } from '../../src/errors.js';
import {
  decodeEnvelope,
  encodeEnvelope,
  markRedelivered,
  parseUnackedValue,
  unackedValue,
} from '../../src/protocol/kombu-envelope.js';
import type { WireMessage } from '../../src/protocol/types.js';
import { jsonLoads } from '../../src/serialization/json.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'protocol');
// Fixtures are arbitrary captured JSON that the tests navigate freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const fixture = (name: string): Json => jsonLoads(readFileSync(join(FIXTURES, name), 'utf8'));

/** Every kombu envelope string (`raw` starting with `{"body"`) captured in the fixtures. */
function allEnvelopes(): Array<{ file: string; raw: string }> {
  const out: Array<{ file: string; raw: string }> = [];
  const walk = (file: string, node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(file, item);
    } else if (node && typeof node === 'object') {
      const raw = (node as Record<string, unknown>)['raw'];
      if (typeof raw === 'string' && raw.startsWith('{"body"')) out.push({ file, raw });
      for (const value of Object.values(node)) walk(file, value);
    }
  };
  for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.json')))
    walk(file, fixture(file));
  return out;
}

void describe('kombu Redis envelope', () => {
  void test('task_plain: decodes every field of the raw LPUSH', () => {
    const raw: string = fixture('task_plain.json').messages[0].raw;
    const d = decodeEnvelope(raw);
    assert.equal(d.exchange, '');
    assert.equal(d.routingKey, 'celery');
    assert.equal(d.deliveryTag, '9b2ad3ba-1865-442b-ad6b-946d26a8ec95');
    assert.equal(d.redelivered, false);
    assert.equal(d.priority, 0);
    assert.equal(d.message.contentType, 'application/json');
    assert.equal(d.message.contentEncoding, 'utf-8');
    assert.equal(d.message.headers['task'], 'tasks.echo');
    assert.deepEqual(d.message.properties, {
      correlationId: '11111111-1111-4111-8111-111111111111',
      replyTo: 'f8d2f049-1d6f-3cf9-84ec-6e55523dc759',
      deliveryMode: 2,
      priority: 0,
    });
    assert.deepEqual(
      JSON.parse(d.message.body.toString('utf8')),
      fixture('task_plain.json').messages[0].body_decoded,
    );
  });

  void test('task_plain: encoding the decoded message gives the raw string byte for byte', () => {
    const raw: string = fixture('task_plain.json').messages[0].raw;
    const d = decodeEnvelope(raw);
    const again = encodeEnvelope(d.message, {
      exchange: d.exchange,
      routingKey: d.routingKey,
      deliveryTag: d.deliveryTag!,
    });
    assert.equal(again, raw);
  });

  void test('every captured envelope round-trips byte for byte (extra properties, expiration, fanout, replies)', () => {
    const all = allEnvelopes();
    assert.ok(all.length > 100, `found only ${all.length} envelopes in the fixtures`);
    for (const { file, raw } of all) {
      const d = decodeEnvelope(raw);
      if (d.redelivered) continue; // restored copies carry flags only the restore adds
      const again = encodeEnvelope(d.message, {
        exchange: d.exchange,
        routingKey: d.routingKey,
        deliveryTag: d.deliveryTag!,
        priority: d.priority,
      });
      assert.equal(again, raw, `round trip of an envelope in ${file}`);
    }
  });

  void test('a message built in TypeScript is laid out like task_plain', () => {
    const message: WireMessage = {
      body: Buffer.from('[[1], {}, {}]'),
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: { lang: 'py', task: 't', id: 'x', 'x-ünicode': 'é' },
      properties: {
        correlationId: 'x',
        replyTo: 'r',
        deliveryMode: 2,
        expiration: '1000',
        extra: { origin: 'gen1@h', delivery_tag: 'ignored', replaced_task_nesting: 0 },
      },
    };
    const raw = encodeEnvelope(message, {
      exchange: '',
      routingKey: 'celery',
      deliveryTag: 'tag-1',
      priority: 5,
    });
    assert.equal(
      raw,
      '{"body": "W1sxXSwge30sIHt9XQ==", "content-encoding": "utf-8", "content-type": "application/json", ' +
        '"headers": {"lang": "py", "task": "t", "id": "x", "x-\\u00fcnicode": "\\u00e9"}, ' +
        '"properties": {"correlation_id": "x", "reply_to": "r", "origin": "gen1@h", "replaced_task_nesting": 0, ' +
        '"delivery_mode": 2, "expiration": "1000", "delivery_info": {"exchange": "", "routing_key": "celery"}, ' +
        '"priority": 5, "body_encoding": "base64", "delivery_tag": "tag-1"}}',
    );
    const back = decodeEnvelope(raw);
    assert.deepEqual(back.message.properties.extra, { origin: 'gen1@h', replaced_task_nesting: 0 });
    assert.equal(back.message.properties.expiration, '1000');
    assert.equal(back.priority, 5);
    assert.deepEqual(back.message.body, message.body);
  });

  void test('priority defaults to the message priority, then 0', () => {
    const message: WireMessage = {
      body: Buffer.alloc(0),
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: {},
      properties: { priority: 7 },
    };
    assert.equal(
      decodeEnvelope(encodeEnvelope(message, { exchange: '', routingKey: 'q', deliveryTag: 't' }))
        .priority,
      7,
    );
    message.properties = {};
    assert.equal(
      decodeEnvelope(encodeEnvelope(message, { exchange: '', routingKey: 'q', deliveryTag: 't' }))
        .priority,
      0,
    );
  });

  void test('restore: markRedelivered of the planted unacked entry is exactly what kombu RPUSHed', () => {
    const f = fixture('redis_unacked_restore.json');
    const entry = parseUnackedValue(f.planted_unacked_entry.unacked_value);
    assert.equal(entry.exchange, '');
    assert.equal(entry.routingKey, 'celery');
    const restored = markRedelivered(entry.envelope);
    assert.equal(restored, f.restored_messages[0].raw);
    const d = decodeEnvelope(restored);
    assert.equal(d.redelivered, true);
    assert.equal(d.message.headers['redelivered'], true);
  });

  void test('unackedValue is what kombu HSETs: [envelope, exchange, routing_key]', () => {
    const f = fixture('redis_unacked_restore.json');
    const hset = f.relevant_commands_in_order.find(
      (c: string[]) => c[0] === 'HSET' && c[2] === '78bb2f24-32dc-405d-8f4f-0b400f842f88',
    ) as string[];
    const lpush = f.relevant_commands_in_order.find((c: string[]) => c[0] === 'LPUSH') as string[];
    assert.equal(unackedValue(lpush[2]!, '', 'celery'), hset[3]);
  });

  void test('a body that is not base64-encoded is taken as text', () => {
    const d = decodeEnvelope(
      '{"body": "plain", "headers": {}, "properties": {"delivery_info": {"exchange": "x", "routing_key": "k"}}}',
    );
    assert.equal(d.message.body.toString('utf8'), 'plain');
    assert.equal(d.exchange, 'x');
    assert.equal(d.routingKey, 'k');
    assert.equal(d.deliveryTag, undefined);
  });

  void test("Python's JSON extensions in headers survive (big integers, NaN), whatever the body holds", () => {
    const raw =
      '{"body": "TmFOMTIzNDU2Nzg5MDEyMzQ1Njc4OQ==", "content-encoding": "utf-8", "content-type": "application/json", ' +
      '"headers": {"big": 1180591620717411303424, "nan": NaN, "s": "NaN"}, "properties": {"delivery_info": ' +
      '{"exchange": "", "routing_key": "q"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "t"}}';
    const d = decodeEnvelope(raw);
    assert.equal(d.message.headers['big'], 1180591620717411303424n);
    assert.ok(Number.isNaN(d.message.headers['nan']));
    assert.equal(d.message.headers['s'], 'NaN');
    assert.equal(d.message.body.toString('utf8'), 'NaN1234567890123456789');
  });

  void test('malformed input fails with MESSAGE_MALFORMED', () => {
    for (const bad of ['not json', '[1, 2]', '"text"']) {
      assert.throws(
        () => decodeEnvelope(bad),
        (e: unknown) => e instanceof MessageMalformedError,
      );
    }
    assert.throws(
      () => parseUnackedValue('{"a": 1}'),
      (e: unknown) => e instanceof MessageMalformedError,
    );
  });
});

void describe("envelope properties that are not kombu's", () => {
  void test('an own "__proto__" key stays a plain extra property', () => {
    const raw = JSON.stringify({
      body: Buffer.from('[[], {}, {}]').toString('base64'),
      'content-encoding': 'utf-8',
      'content-type': 'application/json',
      headers: {},
      properties: {
        body_encoding: 'base64',
        delivery_info: { exchange: '', routing_key: 'celery' },
        delivery_mode: 2,
        delivery_tag: 'tag-1',
      },
    }).replace('"delivery_mode"', '"__proto__": {"polluted": true}, "delivery_mode"');
    const extra = decodeEnvelope(raw).message.properties.extra as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(extra), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(extra, '__proto__')?.value, {
      polluted: true,
    });
    assert.equal((extra as { polluted?: unknown }).polluted, undefined);
  });
});
