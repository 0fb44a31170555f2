import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ContentDisallowedError, DecodeError, MessageMalformedError } from '../../src/errors.js';
import { signatureToWire } from '../../src/protocol/signature.js';
import { decodeTaskMessage } from '../../src/protocol/task-message.js';
import { parseIsoDate, toPythonIso } from '../../src/protocol/time.js';
import type { TaskMessage, WireMessage } from '../../src/protocol/types.js';
import { normalizeAccept } from '../../src/serialization/index.js';
import {
  asObject,
  fixtureMessages,
  fixtureNames,
  isTaskMessage,
  loadFixture,
  wireFromAmqp,
  wireFromRedisEnvelope,
  withMsgpackBins,
  type FixtureMessage,
  type Json,
  type RedisEnvelope,
} from '../support/fixtures.js';

const ACCEPT = normalizeAccept(['json', 'msgpack']);
const REFUSED_TYPES = new Set(['application/x-python-serialize', 'application/x-yaml']);

function embedToWire(t: TaskMessage): Json {
  const list = (l: typeof t.embed.callbacks) => (l === null ? null : l.map(signatureToWire));
  return {
    callbacks: list(t.embed.callbacks),
    errbacks: list(t.embed.errbacks),
    chain: list(t.embed.chain),
    chord: t.embed.chord === null ? null : signatureToWire(t.embed.chord),
  };
}

/** Checks every decoded field of a protocol-2 message against the captured headers and body. */
function assertMatchesProtocol2(t: TaskMessage, m: FixtureMessage, where: string): void {
  const h = m.envelope.headers;
  const props = m.envelope.properties;
  const body = (
    m.envelope['content-type'] === 'application/x-msgpack'
      ? withMsgpackBins(m.bodyDecoded)
      : m.bodyDecoded
  ) as unknown[];
  assert.equal(t.protocol, 2, where);
  assert.equal(t.id, h['id'], where);
  assert.equal(t.task, h['task'], where);
  assert.deepEqual(t.args, body[0], where);
  assert.deepEqual(t.kwargs, body[1], where);
  assert.deepEqual(embedToWire(t), body[2], where);
  assert.equal(t.lang, h['lang'] ?? null, where);
  assert.equal(t.shadow, h['shadow'] ?? null, where);
  assert.equal(t.rootId, h['root_id'] ?? null, where);
  assert.equal(t.parentId, h['parent_id'] ?? null, where);
  assert.equal(t.group, h['group'] ?? null, where);
  assert.equal(t.groupIndex, h['group_index'] ?? null, where);
  assert.equal(t.retries, h['retries'] ?? 0, where);
  assert.deepEqual(t.timeLimit, h['timelimit'] ?? [null, null], where);
  assert.equal(t.argsrepr, h['argsrepr'], where);
  assert.equal(t.kwargsrepr, h['kwargsrepr'], where);
  assert.equal(t.origin, h['origin'] ?? null, where);
  assert.equal(t.ignoreResult, h['ignore_result'] ?? false, where);
  for (const key of ['eta', 'expires'] as const) {
    const text = h[key];
    const decoded = t[key];
    if (typeof text === 'string') {
      assert.equal(decoded, parseIsoDate(text), where);
      // Microseconds survive: writing it back gives Python's string.
      assert.equal(toPythonIso(decoded), text, where);
    } else {
      assert.equal(decoded, null, where);
    }
  }
  const known = new Set([
    'lang',
    'task',
    'id',
    'shadow',
    'eta',
    'expires',
    'group',
    'group_index',
    'retries',
    'timelimit',
    'root_id',
    'parent_id',
    'argsrepr',
    'kwargsrepr',
    'origin',
    'ignore_result',
    'compression',
  ]);
  assert.deepEqual(
    t.extraHeaders,
    Object.fromEntries(Object.entries(h).filter(([k]) => !known.has(k))),
    where,
  );
  assert.equal(t.correlationId, props['correlation_id'] ?? null, where);
  assert.equal(t.replyTo, props['reply_to'] ?? null, where);
  assert.equal(t.priority, props['priority'] ?? null, where);
}

void describe('every captured task message decodes', () => {
  const all = fixtureNames()
    .flatMap((f) => fixtureMessages(f))
    .filter(isTaskMessage);

  void test('the fixtures hold the expected set of task messages', () => {
    assert.ok(all.length >= 50, `found ${all.length}`);
    const files = new Set(all.map((m) => m.file));
    for (const f of [
      'task_plain',
      'task_protocol1',
      'task_msgpack',
      'task_compressed_zlib',
      'canvas_chord3',
      'worker_task_retry',
      'beat_messages',
    ]) {
      assert.ok(files.has(f), f);
    }
  });

  for (const m of all) {
    const where = `${m.file}[${m.index}]`;
    void test(where, () => {
      const wire = wireFromRedisEnvelope(m.envelope);
      if (REFUSED_TYPES.has(m.envelope['content-type'])) {
        assert.throws(
          () => decodeTaskMessage(wire, normalizeAccept(['json', 'pickle', 'yaml'])),
          ContentDisallowedError,
        );
        return;
      }
      const t = decodeTaskMessage(wire, ACCEPT);
      if (typeof m.envelope.headers['task'] === 'string') {
        assertMatchesProtocol2(t, m, where);
      } else {
        const body = asObject(m.bodyDecoded, where);
        assert.equal(t.protocol, 1);
        assert.equal(t.id, body['id']);
        assert.equal(t.task, body['task']);
        assert.deepEqual(t.args, body['args']);
        assert.deepEqual(t.kwargs, body['kwargs']);
        assert.equal(t.eta, parseIsoDate(String(body['eta'])));
        assert.equal(toPythonIso(t.eta), body['eta']);
        assert.equal(t.group, body['group'] ?? body['taskset'] ?? null);
        assert.deepEqual(t.extraHeaders, {});
      }
    });
  }

  void test('amqp_task_message (application_headers, real properties)', () => {
    const fixture = loadFixture('amqp_task_message');
    const [msg] = fixture['messages'] as Json[];
    const wire = wireFromAmqp(msg!);
    const t = decodeTaskMessage(wire, ACCEPT);
    const props = asObject(msg!['properties'], 'properties');
    const headers = asObject(props['application_headers'], 'headers');
    assert.equal(t.id, headers['id']);
    assert.equal(t.priority, 3);
    assert.deepEqual(t.extraHeaders, { 'x-custom': 'v' });
    assert.equal(toPythonIso(t.expires!), headers['expires']);
    assert.deepEqual(embedToWire(t), (msg!['body_decoded'] as unknown[])[2]);
  });

  void test('redis_unacked_restore: a restored message keeps its redelivered header as an extra', () => {
    const fixture = loadFixture('redis_unacked_restore');
    const restored = fixture['restored_messages'] as Json[];
    assert.ok(restored.length > 0);
    for (const r of restored) {
      const envelope = r['envelope'] as RedisEnvelope;
      const t = decodeTaskMessage(wireFromRedisEnvelope(envelope), ACCEPT);
      assert.equal(t.extraHeaders['redelivered'], true);
      assert.equal(t.id, envelope.headers['id']);
      assert.equal(t.rootId, envelope.headers['root_id']);
    }
  });
});

void test('python_worker_rejects_pickle: the input a Python worker refused is refused here too', () => {
  const raw = String(loadFixture('python_worker_rejects_pickle')['input_raw']);
  const w = wireFromRedisEnvelope(JSON.parse(raw) as RedisEnvelope);
  assert.throws(
    () => decodeTaskMessage(w, ACCEPT),
    (e: unknown) =>
      e instanceof ContentDisallowedError && e.contentType === 'application/x-python-serialize',
  );
});

void describe('hand-made minimal messages a Python worker accepts (python_worker_minimal_messages)', () => {
  const inputs = asObject(loadFixture('python_worker_minimal_messages')['inputs'], 'inputs');
  const decode = (name: string): TaskMessage =>
    decodeTaskMessage(
      wireFromRedisEnvelope(JSON.parse(String(inputs[name])) as RedisEnvelope),
      ACCEPT,
    );

  void test('A: only task and id headers, embed {}', () => {
    const t = decode('A_minimal_headers_task_id_only');
    assert.equal(t.task, 'tasks.add');
    assert.deepEqual(t.args, [1, 2]);
    assert.deepEqual(t.embed, { callbacks: null, errbacks: null, chain: null, chord: null });
    assert.equal(t.retries, 0);
    assert.deepEqual(t.timeLimit, [null, null]);
    assert.equal(t.lang, null);
    assert.equal(t.argsrepr, '(1, 2)');
    assert.equal(t.kwargsrepr, '{}');
  });

  void test('B: embed null; C: two-element body (accepted, embed empty)', () => {
    for (const name of ['B_embed_null', 'C_body_two_elements']) {
      assert.deepEqual(decode(name).embed, {
        callbacks: null,
        errbacks: null,
        chain: null,
        chord: null,
      });
    }
  });

  void test('E/F/G: eta with Z, naive eta (UTC), expires with milliseconds and Z', () => {
    const jan1 = Date.UTC(2020, 0, 1);
    assert.equal(decode('E_eta_with_Z_suffix').eta, jan1);
    assert.equal(decode('F_eta_naive').eta, jan1);
    assert.equal(decode('G_expires_past_millis_Z').expires, jan1);
  });

  void test('H: soft time limit only; I: kwargs only', () => {
    assert.deepEqual(decode('H_timelimit_soft_only').timeLimit, [null, 5]);
    const t = decode('I_kwargs_only');
    assert.deepEqual([t.args, t.kwargs], [[], { x: 1, y: 2 }]);
  });
});

function wire(headers: Json, body: unknown, extra: Partial<WireMessage> = {}): WireMessage {
  return {
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    headers,
    properties: {},
    ...extra,
  };
}

const H = { task: 'tasks.add', id: 'abc' };
const EMBED = { callbacks: null, errbacks: null, chain: null, chord: null };

void describe('malformed messages say what is wrong', () => {
  const cases: [string, WireMessage, RegExp][] = [
    [
      'body is a dict without args',
      wire(H, { x: 1 }),
      /body is not a list of \[args, kwargs, embed\]/,
    ],
    [
      'body has 4 elements',
      wire(H, [[], {}, EMBED, 1]),
      /body is not a list of \[args, kwargs, embed\]: it has 4 elements/,
    ],
    ['body is a string', wire(H, '"x"'), /body is not a list/],
    ['id missing', wire({ task: 'tasks.add' }, [[], {}, EMBED]), /header 'id' missing/],
    [
      'id is a number',
      wire({ task: 'tasks.add', id: 5 }, [[], {}, EMBED]),
      /header 'id' must be a non-empty string \(got number 5\)/,
    ],
    ['task missing, body a list', wire({ id: 'abc' }, [[], {}, EMBED]), /header 'task' missing/],
    ['args not a list', wire(H, [{}, {}, EMBED]), /body\[0\] \(args\) is not a list/],
    ['kwargs not a dict', wire(H, [[], [], EMBED]), /body\[1\] \(kwargs\) is not a dict/],
    ['embed not a dict', wire(H, [[], {}, []]), /body\[2\] \(embed\) is not a dict/],
    [
      'callbacks not a list',
      wire(H, [[], {}, { ...EMBED, callbacks: {} }]),
      /embed\.callbacks is not a list/,
    ],
    [
      'callback without task',
      wire(H, [[], {}, { ...EMBED, callbacks: [{ args: [] }] }]),
      /embed\.callbacks\[0\]: signature has no 'task' name/,
    ],
    [
      'chord with bad subtask_type',
      wire(H, [[], {}, { ...EMBED, chord: { task: 'x', subtask_type: 'weird' } }]),
      /embed\.chord: signature 'x': unknown subtask_type/,
    ],
    [
      'timelimit of 3',
      wire({ ...H, timelimit: [1, 2, 3] }, [[], {}, EMBED]),
      /header 'timelimit' must be \[hard, soft\]/,
    ],
    [
      'retries a string',
      wire({ ...H, retries: '1' }, [[], {}, EMBED]),
      /header 'retries' must be an integer/,
    ],
    [
      'eta not a date',
      wire({ ...H, eta: 'tomorrow' }, [[], {}, EMBED]),
      /header 'eta' is not an ISO 8601 date: "tomorrow"/,
    ],
    [
      'expires a number',
      wire({ ...H, expires: 5 }, [[], {}, EMBED]),
      /header 'expires' must be an ISO 8601 string/,
    ],
    [
      'protocol 1 kwargs not a mapping',
      wire({}, { task: 'x', id: 'i', args: [], kwargs: [] }),
      /body 'kwargs' is not a dict/,
    ],
  ];
  for (const [name, w, message] of cases) {
    void test(name, () => {
      assert.throws(
        () => decodeTaskMessage(w, ACCEPT),
        (e: unknown) => e instanceof MessageMalformedError && message.test(e.message),
      );
    });
  }

  void test('bad bytes are a DecodeError, refused types a ContentDisallowedError', () => {
    assert.throws(() => decodeTaskMessage(wire(H, '[[1], {'), ACCEPT), DecodeError);
    assert.throws(
      () => decodeTaskMessage(wire({ ...H, compression: 'application/x-gzip' }, '[]'), ACCEPT),
      DecodeError,
    );
    assert.throws(
      () => decodeTaskMessage(wire(H, [[], {}, EMBED]), normalizeAccept(['msgpack'])),
      ContentDisallowedError,
    );
  });
});

void describe('protocol 1 and hybrid messages', () => {
  void test('hybrid: task header plus a body dict; headers win, taskset is group', () => {
    const t = decodeTaskMessage(
      wire(
        { task: 'tasks.add', id: 'from-header', 'x-extra': 1 },
        {
          task: 'ignored',
          id: 'from-body',
          args: [1],
          kwargs: { a: 2 },
          taskset: 'g1',
          retries: 2,
          callbacks: [{ task: 'cb' }],
        },
      ),
      ACCEPT,
    );
    assert.equal(t.protocol, 1);
    assert.equal(t.id, 'from-header');
    assert.equal(t.group, 'g1');
    assert.equal(t.retries, 2);
    assert.deepEqual(t.extraHeaders, { 'x-extra': 1 });
    assert.equal(t.embed.callbacks?.[0]?.task, 'cb');
    assert.equal(t.embed.chain, null);
  });

  void test('the last chain step arrives with chain [] (not null) and keeps it', () => {
    const t = decodeTaskMessage(wire(H, [[1], {}, { ...EMBED, chain: [] }]), ACCEPT);
    assert.deepEqual(t.embed.chain, []);
  });

  void test('big ints, NaN and non-ASCII in arguments survive decoding', () => {
    const t = decodeTaskMessage(
      wire(H, '[[1180591620717411303424, NaN, "\\u00e9"], {}, {}]'),
      ACCEPT,
    );
    assert.deepEqual(t.args, [2n ** 70n, NaN, 'é']);
  });
});
