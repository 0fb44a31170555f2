import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { argsRepr, kwargsRepr, pyRepr, safeRepr } from '../../src/protocol/repr.js';

/**
 * Golden outputs of Celery 5.2's saferepr (run in Python 3.11) for the same inputs:
 * [kind, input, maxlen, expected]. They cover the truncation quirks: `, ...` once the budget
 * is spent, strings cut at the last space, nesting deeper than 3 levels as `[...]`, and the
 * closer that was next in line being dropped.
 */
const SAFEREPR_VECTORS: ['args' | 'kwargs', () => unknown, number, string][] = [
  ['args', () => [1, 'two', [3], { four: 4 }], 1024, "(1, 'two', [3], {'four': 4})"],
  [
    'kwargs',
    () => ({ five: 5.5, six: null, seven: true }),
    1024,
    "{'five': 5.5, 'six': None, 'seven': True}",
  ],
  ['args', () => [], 1024, '()'],
  ['args', () => [7], 1024, '(7,)'],
  [
    'args',
    () => ["it's", 'say "hi"', 'both \' "', 'tab\tnl\n', 'é ✓ 😀'],
    1024,
    "('it\\'s', 'say \"hi\"', 'both \\' \"', 'tab\tnl\n', 'é ✓ 😀')",
  ],
  ['args', () => [[[[1]]], { a: { b: { c: 1 } } }], 1024, "([[[...]]], {'a': {'b': {...}}})"],
  ['args', () => [[1, [2, [3, [4, [5]]]]]], 1024, '([1, [2, [...]]],)'],
  [
    'args',
    () => [1.5, 1e16, 1e-5, -0.25, 2n ** 70n, true, false, null, undefined],
    1024,
    '(1.5, 1e+16, 1e-05, -0.25, 1180591620717411303424, True, False, None, None)',
  ],
  ['args', () => [Buffer.from('bytes!'), Buffer.from([0xff, 0x00])], 1024, "(b'bytes!', b'ff00')"],
  ['args', () => ['x'.repeat(2000)], 1024, "('" + 'x'.repeat(1023) + "...', ..."],
  [
    'args',
    () => ['word '.repeat(400)],
    1024,
    "('word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word...', ...",
  ],
  [
    'args',
    () => [Array.from({ length: 600 }, (_, i) => i)],
    1024,
    '([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164, 165, 166, 167, 168, 169, 170, 171, 172, 173, 174, 175, 176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 192, 193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223, 224, 225, 22..., ...],)',
  ],
  [
    'args',
    () => [Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${i}`, 'v'.repeat(30)]))],
    1024,
    "({'k0': '" +
      'v'.repeat(30) +
      "', 'k1': '" +
      'v'.repeat(30) +
      "', 'k2': '" +
      'v'.repeat(30) +
      "', 'k3': '" +
      'v'.repeat(30) +
      "', 'k4': '" +
      'v'.repeat(30) +
      "', 'k5': '" +
      'v'.repeat(30) +
      "', 'k6': '" +
      'v'.repeat(30) +
      "', 'k7': '" +
      'v'.repeat(30) +
      "', 'k8': '" +
      'v'.repeat(30) +
      "', 'k9': '" +
      'v'.repeat(30) +
      "', 'k10': '" +
      'v'.repeat(30) +
      "', 'k11': '" +
      'v'.repeat(30) +
      "', 'k12': '" +
      'v'.repeat(30) +
      "', 'k13': '" +
      'v'.repeat(30) +
      "', 'k14': '" +
      'v'.repeat(30) +
      "', 'k15': '" +
      'v'.repeat(30) +
      "', 'k16': '" +
      'v'.repeat(30) +
      "', 'k17': '" +
      'v'.repeat(30) +
      "', 'k18': '" +
      'v'.repeat(30) +
      "', 'k19': '" +
      'v'.repeat(30) +
      "', 'k20': '" +
      'v'.repeat(30) +
      "', 'k21': '" +
      'v'.repeat(30) +
      "', 'k22': '" +
      'v'.repeat(30) +
      "', 'k23': '" +
      'v'.repeat(30) +
      "', 'k24': '" +
      'v'.repeat(30) +
      "', 'k25': , ...},)",
  ],
  [
    'kwargs',
    () => ({ text: 'a b c '.repeat(300), n: 1 }),
    1024,
    "{'text': 'a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c a b c...', ...}",
  ],
  ['args', () => [[['x'.repeat(1100)]]], 1024, "([['" + 'x'.repeat(1021) + "...', ...],)"],
  ['args', () => ['x'.repeat(1020), 1, 2], 1024, "('" + 'x'.repeat(1020) + "', , ...)"],
  ['args', () => ['x'.repeat(1019), 12345], 1024, "('" + 'x'.repeat(1019) + "', , ...)"],
  ['args', () => ['y'.repeat(1017), 'z'], 1024, "('" + 'y'.repeat(1017) + "', 'z', ..."],
  ['args', () => [Array.from({ length: 10 }, (_, i) => i)], 10, '([0, 1, 2, , ...],)'],
  [
    'args',
    () => [
      [1, 2, 3],
      [4, 5, 6],
    ],
    8,
    '([1, 2, , ...])',
  ],
  ['args', () => [{ a: [1, 2, 3], b: 'hello world' }], 15, "({'a': [1, 2, 3..., ...},)"],
  ['args', () => [['😀'.repeat(30)]], 20, "(['" + '😀'.repeat(18) + "...', ...,)"],
  [
    'kwargs',
    () => ({ 'key with space': 'value '.repeat(5), z: [1, { deep: [1] }] }),
    25,
    "{'key with space': 'value...', ...}",
  ],
  ['args', () => ['ab cd ef gh'], 6, "('ab...', ..."],
];

void describe('argsRepr / kwargsRepr (Celery saferepr, maxlen 1024)', () => {
  SAFEREPR_VECTORS.forEach(([kind, input, maxlen, expected], i) => {
    void test(`vector ${i}: ${expected.slice(0, 40)}`, () => {
      const value = input();
      const out =
        kind === 'args'
          ? argsRepr(value as unknown[], maxlen)
          : kwargsRepr(value as Record<string, unknown>, maxlen);
      assert.equal(out, expected);
    });
  });

  void test('the headers of the fixtures', () => {
    assert.equal(argsRepr([1, 'two', [3], { four: 4 }]), "(1, 'two', [3], {'four': 4})");
    assert.equal(
      kwargsRepr({ five: 5.5, six: null, seven: true }),
      "{'five': 5.5, 'six': None, 'seven': True}",
    );
    assert.equal(argsRepr(['linked-boom']), "('linked-boom',)");
    assert.equal(argsRepr([[0, 2, 4]]), '([0, 2, 4],)');
    assert.equal(argsRepr([1, 'two', Buffer.from('bytes!')]), "(1, 'two', b'bytes!')");
  });

  void test('safeRepr without a limit, and of other objects', () => {
    assert.equal(safeRepr('x'.repeat(3000), null).length, 3002);
    assert.equal(
      safeRepr(new Date(Date.UTC(2024, 4, 6, 7, 8))),
      'datetime.datetime(2024, 5, 6, 7, 8, tzinfo=datetime.timezone.utc)',
    );
    const cyclic: unknown[] = [1];
    cyclic.push(cyclic);
    assert.equal(safeRepr(cyclic), '[1, <Recursion on list with id=0>]');
  });
});

void describe('pyRepr (Python repr)', () => {
  // Outputs of Python 3.11 repr() for the same values.
  const table: [unknown, string][] = [
    [null, 'None'],
    [undefined, 'None'],
    [true, 'True'],
    [5, '5'],
    [5.5, '5.5'],
    [1e16, '1e+16'],
    [NaN, 'nan'],
    [-Infinity, '-inf'],
    [2n ** 70n, '1180591620717411303424'],
    ["it's", '"it\'s"'],
    ['a"b\'c', "'a\"b\\'c'"],
    ['\u00a0', "'\\xa0'"],
    ['a\u200bb', "'a\\u200bb'"],
    ['\u007f', "'\\x7f'"],
    ['😀 é', "'😀 é'"],
    ['tab\tnl\n\\', "'tab\\tnl\\n\\\\'"],
    [Buffer.from("a'b"), 'b"a\'b"'],
    [Buffer.from('a\'"b'), "b'a\\'\"b'"],
    [Buffer.from([0, 0xff]), "b'\\x00\\xff'"],
    [
      [1, 'a', null, true, 1.5, { k: [1] }, new Set(), new Set([1])],
      "[1, 'a', None, True, 1.5, {'k': [1]}, set(), {1}]",
    ],
    [new Map([[1, 'one']]), "{1: 'one'}"],
    [
      new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 123)),
      'datetime.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=datetime.timezone.utc)',
    ],
    [
      new Date(Date.UTC(2024, 4, 6)),
      'datetime.datetime(2024, 5, 6, 0, 0, tzinfo=datetime.timezone.utc)',
    ],
    [new RangeError('bad'), "RangeError('bad')"],
  ];
  for (const [value, expected] of table) {
    void test(expected, () => assert.equal(pyRepr(value), expected));
  }

  void test('cycles print as [...] and {...}', () => {
    const list: unknown[] = [1];
    list.push(list);
    const obj: Record<string, unknown> = {};
    obj['self'] = obj;
    assert.equal(pyRepr(list), '[1, [...]]');
    assert.equal(pyRepr(obj), "{'self': {...}}");
  });
});
