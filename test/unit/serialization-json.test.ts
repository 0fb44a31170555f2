import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError, EncodeError } from '../../src/errors.js';
import { fastDumps, jsonLoads, pyDumps } from '../../src/serialization/json.js';
import { pyFloatRepr } from '../../src/serialization/pyfloat.js';
import { fixtureMessages, fixtureNames, loadFixture, type Json } from '../support/fixtures.js';

/** Python-produced JSON bodies: every JSON, uncompressed message in the fixtures. */
function pythonJsonBodies(): { where: string; raw: string }[] {
  const out: { where: string; raw: string }[] = [];
  for (const file of fixtureNames()) {
    for (const m of fixtureMessages(file)) {
      if (
        m.envelope['content-type'] !== 'application/json' ||
        m.envelope.headers?.['compression'] !== undefined
      )
        continue;
      out.push({
        where: `${file}[${m.index}]`,
        raw: Buffer.from(m.envelope.body, 'base64').toString('utf8'),
      });
    }
  }
  return out;
}

void describe('pyDumps writes the bytes Python writes', () => {
  void test('task_plain body, byte for byte', () => {
    const [m] = fixtureMessages('task_plain');
    assert.ok(m);
    assert.equal(pyDumps(m.bodyDecoded), Buffer.from(m.envelope.body, 'base64').toString('utf8'));
  });

  void test('every Python JSON body in the fixtures re-encodes to the same bytes', () => {
    const bodies = pythonJsonBodies();
    assert.ok(bodies.length > 40, `expected many bodies, got ${bodies.length}`);
    for (const { where, raw } of bodies) {
      // The one value JS cannot keep: Python's float 1.0 arrives as the number 1.
      const expected = where.startsWith('task_json_types') ? raw.replace(', 1.0, ', ', 1, ') : raw;
      assert.equal(pyDumps(jsonLoads(raw)), expected, where);
    }
  });

  void test('task_json_types: big int, non-ASCII escapes and kombu date strings', () => {
    const [m] = fixtureMessages('task_json_types');
    assert.ok(m);
    const raw = Buffer.from(m.envelope.body, 'base64').toString('utf8');
    const body = jsonLoads(raw) as unknown[][];
    const args = body[0]!;
    assert.equal(args[9], 2n ** 70n);
    assert.equal(args[10], 'unicode é ✓');
    assert.deepEqual(body, m.bodyDecoded);
    assert.ok(raw.includes('"unicode \\u00e9 \\u2713"'));
    // What kombu writes for an aware UTC datetime, from a JS Date:
    assert.equal(pyDumps(new Date(Date.UTC(2024, 4, 6, 7, 8, 9))), JSON.stringify(args[1]));
  });

  void test('separators, ensure_ascii and special floats match Python', () => {
    // Outputs of Python 3.11 json.dumps for the same values.
    assert.equal(
      pyDumps({ s: 'é ✓ 😀 \u007f \u0000 \t "q" \\ /' }),
      '{"s": "\\u00e9 \\u2713 \\ud83d\\ude00 \\u007f \\u0000 \\t \\"q\\" \\\\ /"}',
    );
    assert.equal(
      pyDumps([NaN, Infinity, -Infinity, 2n ** 70n, -(2n ** 64n), -0]),
      '[NaN, Infinity, -Infinity, 1180591620717411303424, -18446744073709551616, -0.0]',
    );
    assert.equal(
      pyDumps([1, 'a', { b: [] }, {}, null, true]),
      '[1, "a", {"b": []}, {}, null, true]',
    );
    assert.equal(pyDumps([undefined, { a: undefined, b: 1 }]), '[null, {"b": 1}]');
  });

  void test('floats are written like Python repr', () => {
    const table: [number, string][] = [
      [0.1, '0.1'],
      [1.5, '1.5'],
      [-2.25, '-2.25'],
      [1e16, '1e+16'],
      [1e-5, '1e-05'],
      [0.0001, '0.0001'],
      [123456789.123, '123456789.123'],
      [5e-324, '5e-324'],
      [1.7976931348623157e308, '1.7976931348623157e+308'],
      [1234567890123456.8, '1234567890123456.8'],
      [1.2345678901234568e16, '1.2345678901234568e+16'],
      [1e22, '1e+22'],
      [-1e-7, '-1e-07'],
      [0.30000000000000004, '0.30000000000000004'],
      [2.5e-10, '2.5e-10'],
      [9007199254740992, '9007199254740992.0'],
    ];
    for (const [x, py] of table) {
      assert.equal(pyFloatRepr(x), py, String(x));
      assert.equal(pyDumps(x), Number.isSafeInteger(x) ? String(x) : py);
    }
    assert.equal(pyFloatRepr(100), '100.0');
  });

  void test('dates are written as kombu does: Z suffix, microseconds omitted when zero', () => {
    assert.equal(
      pyDumps(new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 123))),
      '"2024-05-06T07:08:09.123000Z"',
    );
    assert.equal(pyDumps({ d: new Date(Date.UTC(2024, 4, 6)) }), '{"d": "2024-05-06T00:00:00Z"}');
  });

  void test('toJSON and boxed primitives are honoured like JSON.stringify', () => {
    const money = { toJSON: () => '3.14' };
    assert.equal(pyDumps([money, Object(5), Object('x')]), '["3.14", 5, "x"]');
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    assert.equal(pyDumps(new Point(1, 2)), '{"x": 1, "y": 2}');
  });
});

void describe('values Python could not read back are refused with their path', () => {
  const cases: [string, unknown, RegExp][] = [
    ['function', { args: [1, () => 1] }, /^args\[1\]: functions cannot be serialized to JSON/],
    [
      'symbol',
      { kwargs: { 'a b': Symbol('s') } },
      /^kwargs\["a b"\]: symbols cannot be serialized/,
    ],
    [
      'Buffer',
      [Buffer.from('x')],
      /^\[0\]: bytes are not JSON serializable, as in Python; use msgpack or base64/,
    ],
    ['Uint8Array', new Uint8Array(2), /^value: bytes are not JSON serializable/],
    ['Map', { m: new Map() }, /^m: a Map cannot be serialized.*Object\.fromEntries/],
    ['Set', { s: new Set() }, /^s: a Set cannot be serialized.*Array\.from/],
    ['Error', { e: new TypeError('x') }, /^e: an Error \(TypeError\)/],
    ['Promise', [Promise.resolve(1)], /^\[0\]: a Promise cannot be serialized.*await/],
    ['invalid Date', [new Date(NaN)], /^\[0\]: an invalid Date/],
  ];
  for (const [name, value, message] of cases) {
    void test(name, () => {
      assert.throws(
        () => pyDumps(value),
        (err: unknown) => err instanceof EncodeError && message.test(err.message),
      );
      assert.throws(
        () => fastDumps(value),
        (err: unknown) => err instanceof EncodeError && message.test(err.message),
      );
    });
  }

  void test('cycles', () => {
    const a: Json = { list: [1] };
    (a['list'] as unknown[]).push(a);
    assert.throws(() => pyDumps(a), /list\[1\]: circular reference/);
    assert.throws(() => fastDumps(a), EncodeError);
  });

  void test('a value shared twice (not a cycle) is fine', () => {
    const shared = { x: 1 };
    assert.equal(fastDumps([shared, shared]), '[{"x":1},{"x":1}]');
  });
});

void describe('fastDumps', () => {
  void test('plain data is exactly JSON.stringify', () => {
    const v = { a: [1, 'é', { b: null, c: 1.5 }], d: true, e: undefined };
    assert.equal(fastDumps(v), JSON.stringify(v));
  });

  void test('special values keep Python semantics in compact form', () => {
    assert.equal(
      fastDumps({
        n: NaN,
        i: -Infinity,
        big: 2n ** 70n,
        d: new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678)),
      }),
      '{"n":NaN,"i":-Infinity,"big":1180591620717411303424,"d":"2030-01-02T03:04:05.678000Z"}',
    );
  });

  void test('what fastDumps writes, jsonLoads (and so Python) reads back', () => {
    const v = [1, -2.5, 'x"\\\n', [NaN, Infinity], { k: 2n ** 64n, u: 'ü😀' }, null, false];
    assert.deepEqual(jsonLoads(fastDumps(v)), v);
  });
});

void describe('jsonLoads', () => {
  void test('reads NaN, Infinity, -Infinity and big integers', () => {
    assert.deepEqual(
      jsonLoads('[NaN, Infinity, -Infinity, 1180591620717411303424, -18446744073709551616]'),
      [NaN, Infinity, -Infinity, 2n ** 70n, -(2n ** 64n)],
    );
  });

  void test('safe 16-digit integers stay numbers; floats with many digits stay floats', () => {
    assert.deepEqual(
      jsonLoads(
        '[9007199254740991, 9007199254740992, 0.30000000000000004, 1.2345678901234568e+16]',
      ),
      [9007199254740991, 9007199254740992n, 0.30000000000000004, 1.2345678901234568e16],
    );
  });

  void test('the slow parser agrees with JSON.parse on ordinary documents', () => {
    const doc =
      '{"a": [1, -0.5, 2e3, "\\u00e9\\ud83d\\ude00\\n\\"", true, false, null, {}, []], "b": {"c": "NaN"}}';
    // "NaN" inside a string sends it to the slow parser.
    assert.deepEqual(jsonLoads(doc), JSON.parse(doc));
    assert.deepEqual(jsonLoads(Buffer.from(doc)), JSON.parse(doc));
  });

  void test('__proto__ keys become own properties, never the prototype', () => {
    const v = jsonLoads('{"__proto__": {"polluted": 1}, "x": NaN}') as Json;
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.deepEqual(Object.keys(v), ['__proto__', 'x']);
  });

  for (const [text, position] of [
    ['[1, NaN,, 2]', 8],
    ['{"a": NaN', 9],
    ['[Infinity] x', 11],
    ['{"a" NaN}', 5],
    ['"NaN', 4],
    ['[01, NaN]', 1],
  ] as const) {
    void test(`bad JSON ${JSON.stringify(text)} → DecodeError at position ${position}`, () => {
      assert.throws(
        () => jsonLoads(text),
        (err: unknown) =>
          err instanceof DecodeError && err.message.includes(`at position ${position}`),
      );
    });
  }

  void test('bad JSON on the fast path is a DecodeError too', () => {
    assert.throws(() => jsonLoads('{"a": }'), DecodeError);
    assert.throws(() => jsonLoads(''), DecodeError);
  });

  void test('every fixture file parses', () => {
    for (const name of fixtureNames()) assert.equal(typeof loadFixture(name), 'object', name);
  });
});

void describe('jsonLoads on what JSON.parse accepts', () => {
  void test('nesting deeper than the call stack is read, not a RangeError', () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    assert.ok(Array.isArray(jsonLoads(deep)));
  });
  void test('an integer beyond 2^53 anywhere is a BigInt; floats with exponents and -0 stay numbers', () => {
    assert.deepEqual(jsonLoads('{"a": [1, {"b": 12345678901234567890}]}'), {
      a: [1, { b: 12345678901234567890n }],
    });
    assert.deepEqual(jsonLoads('[1.5e300, -0, 9007199254740991]'), [1.5e300, -0, 9007199254740991]);
  });
});
