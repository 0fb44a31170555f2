import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { ConfigError, ContentDisallowedError, DecodeError, EncodeError } from '../../src/errors.js';
import {
  compress,
  decompress,
  deserialize,
  jsonLoads,
  normalizeAccept,
  serialize,
} from '../../src/serialization/index.js';
import { fixtureMessages, withMsgpackBins } from '../support/fixtures.js';

const JSON_ONLY = normalizeAccept(['json']);
const EMBED = { callbacks: null, errbacks: null, chain: null, chord: null };

function firstMessage(file: string) {
  const [m] = fixtureMessages(file);
  assert.ok(m, `${file} has a message`);
  return { m, body: Buffer.from(m.envelope.body, 'base64') };
}

void describe('serialize', () => {
  void test('json: compact UTF-8 JSON', () => {
    const out = serialize([[1, 'é'], {}, EMBED], 'json');
    assert.equal(out.contentType, 'application/json');
    assert.equal(out.contentEncoding, 'utf-8');
    assert.equal(
      out.body.toString('utf8'),
      '[[1,"é"],{},{"callbacks":null,"errbacks":null,"chain":null,"chord":null}]',
    );
  });

  void test('msgpack: the same bytes Python wrote for task_msgpack', () => {
    const { m, body } = firstMessage('task_msgpack');
    const out = serialize(withMsgpackBins(m.bodyDecoded), 'msgpack');
    assert.equal(out.contentType, 'application/x-msgpack');
    assert.equal(out.contentEncoding, 'binary');
    assert.deepEqual(out.body, body);
  });

  void test('msgpack: integers beyond 32 bits stay integers (Python would read a float otherwise)', () => {
    const out = serialize([2 ** 40, -(2 ** 40), 2 ** 53 - 1], 'msgpack');
    assert.equal(out.body.includes(0xcb), false, 'no float64 marker');
    assert.deepEqual(
      deserialize(out.body, out.contentType, out.contentEncoding, normalizeAccept(['msgpack'])),
      [2 ** 40, -(2 ** 40), 2 ** 53 - 1],
    );
  });

  void test('msgpack: same value semantics as JSON (Date, undefined) and path errors', () => {
    const accept = normalizeAccept(['msgpack']);
    const out = serialize(
      { d: new Date(Date.UTC(2024, 0, 1)), gone: undefined, list: [undefined, 1] },
      'msgpack',
    );
    assert.deepEqual(deserialize(out.body, out.contentType, out.contentEncoding, accept), {
      d: '2024-01-01T00:00:00Z',
      list: [null, 1],
    });
    assert.throws(
      () => serialize({ a: [0, () => 0] }, 'msgpack'),
      (e: unknown) => e instanceof EncodeError && /^a\[1\]: functions/.test(e.message),
    );
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    assert.throws(() => serialize(cyclic, 'msgpack'), /circular reference/);
  });

  void test('pickle and yaml are refused, with the reason', () => {
    for (const name of ['pickle', 'yaml']) {
      assert.throws(
        () => serialize([], name),
        (e: unknown) =>
          e instanceof EncodeError &&
          e.message.includes(`refuses to produce ${name}`) &&
          e.message.includes("'json'"),
      );
    }
    assert.throws(() => serialize([], 'pickle'), /arbitrary code/);
  });

  void test('unknown serializer names list the valid ones', () => {
    assert.throws(
      () => serialize([], 'bson'),
      (e: unknown) => e instanceof EncodeError && /'bson'.*'json' and 'msgpack'/.test(e.message),
    );
  });
});

void describe('normalizeAccept', () => {
  void test('names and content types', () => {
    assert.deepEqual(
      [
        ...normalizeAccept(['json', 'msgpack', 'application/x-yaml', 'Application/JSON', 'pickle']),
      ].sort(),
      [
        'application/json',
        'application/x-msgpack',
        'application/x-python-serialize',
        'application/x-yaml',
      ],
    );
  });

  void test('an unknown name is a ConfigError on acceptContent', () => {
    assert.throws(
      () => normalizeAccept(['json', 'jsn']),
      (e: unknown) =>
        e instanceof ConfigError && e.setting === 'acceptContent' && e.message.includes("'jsn'"),
    );
  });
});

void describe('deserialize', () => {
  void test('task_pickle is refused, even when acceptContent lists pickle', () => {
    const { m, body } = firstMessage('task_pickle');
    for (const accept of [JSON_ONLY, normalizeAccept(['json', 'pickle'])]) {
      assert.throws(
        () => deserialize(body, m.envelope['content-type'], m.envelope['content-encoding'], accept),
        (e: unknown) =>
          e instanceof ContentDisallowedError &&
          e.contentType === 'application/x-python-serialize' &&
          e.message.includes('never unpickles'),
      );
    }
  });

  void test('task_yaml is refused', () => {
    const { m, body } = firstMessage('task_yaml');
    assert.throws(
      () =>
        deserialize(
          body,
          m.envelope['content-type'],
          m.envelope['content-encoding'],
          normalizeAccept(['yaml']),
        ),
      (e: unknown) => e instanceof ContentDisallowedError && e.contentType === 'application/x-yaml',
    );
  });

  void test('task_msgpack decodes when accepted, and is refused otherwise', () => {
    const { m, body } = firstMessage('task_msgpack');
    const decoded = deserialize(
      body,
      'application/x-msgpack',
      'binary',
      normalizeAccept(['json', 'msgpack']),
    );
    assert.deepEqual(decoded, withMsgpackBins(m.bodyDecoded));
    assert.throws(
      () => deserialize(body, 'application/x-msgpack', 'binary', JSON_ONLY),
      ContentDisallowedError,
    );
  });

  void test('json not in the accept list is refused', () => {
    assert.throws(
      () =>
        deserialize(Buffer.from('[]'), 'application/json', 'utf-8', normalizeAccept(['msgpack'])),
      ContentDisallowedError,
    );
  });

  void test('application/data and application/text are always trusted, returned raw', () => {
    const data = Buffer.from('héllo');
    assert.equal(deserialize(data, 'application/data', 'utf-8', JSON_ONLY), 'héllo');
    assert.equal(deserialize(data, 'application/data', 'binary', JSON_ONLY), data);
    assert.equal(deserialize(data, 'application/text', 'utf-8', JSON_ONLY), 'héllo');
    assert.equal(deserialize(data, '', '', JSON_ONLY), 'héllo');
  });

  void test('bad bytes are a DecodeError', () => {
    assert.throws(
      () => deserialize(Buffer.from('[1,'), 'application/json', 'utf-8', JSON_ONLY),
      DecodeError,
    );
    assert.throws(
      () =>
        deserialize(
          Buffer.from([0x93, 0x01]),
          'application/x-msgpack',
          'binary',
          normalizeAccept(['msgpack']),
        ),
      DecodeError,
    );
  });

  void test('content types with parameters or odd case are matched', () => {
    assert.deepEqual(
      deserialize(Buffer.from('[NaN]'), 'Application/JSON; charset=utf-8', 'utf-8', JSON_ONLY),
      [NaN],
    );
  });
});

void describe('compression', () => {
  for (const file of ['task_compressed_zlib', 'task_compressed_gzip_alias']) {
    void test(`${file}: application/x-gzip is a zlib stream`, () => {
      const { m, body } = firstMessage(file);
      const header = m.envelope.headers['compression'];
      assert.equal(header, 'application/x-gzip');
      assert.equal(body[0], 0x78, 'zlib stream, not gzip');
      const plain = decompress(body, String(header));
      assert.deepEqual(jsonLoads(plain), m.bodyDecoded);
      // What we write is a zlib stream too (bytes differ from Python's zlib build; any valid
      // stream is fine for zlib.decompress).
      const ours = compress(plain, 'zlib');
      assert.equal(ours.header, 'application/x-gzip');
      assert.equal(ours.body[0], 0x78);
      assert.deepEqual(decompress(ours.body, ours.header), plain);
    });
  }

  void test("'zlib' and 'gzip' are the same codec", () => {
    const data = Buffer.from('x'.repeat(100));
    assert.deepEqual(compress(data, 'gzip'), compress(data, 'zlib'));
  });

  void test('brotli round-trips', () => {
    const data = Buffer.from('y'.repeat(1000));
    const out = compress(data, 'brotli');
    assert.equal(out.header, 'application/x-brotli');
    assert.ok(out.body.length < data.length);
    assert.deepEqual(decompress(out.body, out.header), data);
  });

  void test('real gzip data under application/x-gzip is read too', () => {
    const data = Buffer.from('from a foreign producer');
    assert.deepEqual(decompress(gzipSync(data), 'application/x-gzip'), data);
  });

  void test('bzip2, lzma and zstd say they are unsupported on Node 20 and what to use', () => {
    for (const name of ['bzip2', 'lzma', 'zstd']) {
      assert.throws(
        () => compress(Buffer.from('x'), name),
        (e: unknown) =>
          e instanceof EncodeError &&
          e.message.includes('not supported on Node 20') &&
          e.message.includes("'zlib'"),
      );
    }
    for (const header of ['application/x-bz2', 'application/x-lzma', 'application/zstd']) {
      assert.throws(
        () => decompress(Buffer.from('x'), header),
        (e: unknown) =>
          e instanceof DecodeError && e.message.includes('Node 20') && e.message.includes("'zlib'"),
      );
    }
  });

  void test('unknown names and corrupt data', () => {
    assert.throws(() => compress(Buffer.from('x'), 'snappy'), EncodeError);
    assert.throws(() => decompress(Buffer.from('x'), 'application/x-snappy'), DecodeError);
    assert.throws(
      () => decompress(Buffer.from([0x78, 0x9c, 1, 2, 3]), 'application/x-gzip'),
      DecodeError,
    );
  });
});
