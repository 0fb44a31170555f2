/** The pieces under the process pool's channel: the IPC codec and the job queue. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Fifo } from '../../src/worker/pool/fifo.js';
import { packMessage, unpackMessage } from '../../src/worker/pool/ipc-codec.js';

/** What the other side gets: Node's JSON channel stringifies and parses. */
function overJson(message: object): unknown {
  return unpackMessage(JSON.parse(JSON.stringify(packMessage(message))));
}

void describe('pool IPC codec', () => {
  void test('plain JSON data goes as itself', () => {
    const message = {
      t: 'run',
      seq: 1,
      request: { args: [1, 'a', null, true, { b: [] }], kwargs: {}, skip: undefined },
    };
    assert.equal(packMessage(message), message);
    assert.deepEqual(overJson(message), {
      t: 'run',
      seq: 1,
      request: { args: [1, 'a', null, true, { b: [] }], kwargs: {} },
    });
  });

  void test('anything JSON would change is cloned: Dates, BigInts, NaN, -0, typed arrays, Maps, undefined items, class instances', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const cases: unknown[] = [
      new Date(5),
      2n ** 70n,
      NaN,
      -Infinity,
      -0,
      new Uint8Array([1, 2]),
      new Map([[1, 'a']]),
      new Set([1]),
      [1, undefined],
    ];
    for (const value of cases) {
      const packed = packMessage({ t: 'done', value }) as { t: string };
      assert.equal(packed.t, '~v8', `${String(value)} should be cloned`);
      assert.deepEqual(overJson({ t: 'done', value }), { t: 'done', value });
    }
    assert.deepEqual(overJson({ t: 'done', value: new Point(1, 2) }), {
      t: 'done',
      value: { x: 1, y: 2 },
    });
    // An undefined property stays JSON: it arrives missing, which reads as undefined too.
    assert.equal(
      (overJson({ t: 'done', value: undefined }) as { value?: unknown }).value,
      undefined,
    );
  });

  void test('a value that cannot be cloned throws when packing', () => {
    assert.throws(() => packMessage({ t: 'done', value: () => 1 }), /could not be cloned/);
  });
});

void describe('Fifo', () => {
  void test('keeps order through pushes, shifts, unshift and removal, also past its compaction point', () => {
    const q = new Fifo<number>();
    for (let i = 0; i < 5000; i++) q.push(i);
    for (let i = 0; i < 3000; i++) assert.equal(q.shift(), i);
    q.unshift(2999);
    assert.equal(q.length, 2001);
    assert.deepEqual(
      q.remove((n) => n % 1000 === 0),
      [3000, 4000],
    );
    assert.equal(q.shift(), 2999);
    assert.equal(q.shift(), 3001);
    assert.equal(q.drain().length, 1997);
    assert.equal(q.shift(), undefined);
    assert.equal(q.length, 0);
  });
});
