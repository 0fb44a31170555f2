/**
 * TickBatch (one flush and one promise per turn of the loop or delay, taken items given back) and
 * TaskSlots (enter without a promise when a slot is free, FIFO hand-over, resize).
 */
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { TickBatch } from '../../src/transport/redis/batch.js';
import { TaskSlots } from '../../src/worker/pool/slots.js';

void describe('TickBatch', () => {
  void test('items added in one turn go out in one flush and share one promise', async () => {
    const flushed: string[][] = [];
    const batch = new TickBatch<string>(async (items) => {
      flushed.push([...items]);
    });
    const a = batch.add('a');
    const b = batch.add('b');
    assert.equal(a, b, 'one promise for the turn');
    assert.equal(batch.size, 2);
    await Promise.all([a, b]);
    assert.deepEqual(flushed, [['a', 'b']]);
    const c = batch.add('c');
    assert.notEqual(c, a, 'the next turn has its own');
    await c;
    assert.deepEqual(flushed, [['a', 'b'], ['c']]);
  });

  void test('with a delay, items wait that long for a taker, then flush on their own', async () => {
    const flushed: string[][] = [];
    const batch = new TickBatch<string>(async (items) => {
      flushed.push([...items]);
    }, 20);
    const t0 = performance.now();
    const a = batch.add('a');
    await nextTurn();
    const b = batch.add('b');
    assert.equal(b, a, 'the same round until it flushes');
    assert.deepEqual(flushed, [], 'not on the next turn');
    await a;
    assert.ok(performance.now() - t0 >= 19, 'flushed after the delay');
    assert.deepEqual(flushed, [['a', 'b']], 'everything added meanwhile in one flush');

    const c = batch.add('c');
    const taken = batch.drain();
    assert.ok(taken);
    assert.deepEqual(taken.items, ['c']);
    await new Promise((r) => setTimeout(r, 40));
    assert.deepEqual(flushed, [['a', 'b']], 'taken before the delay: the timer is gone');
    taken.resolve();
    await c;

    const d = batch.add('d');
    batch.hurry();
    await nextTurn();
    assert.deepEqual(flushed.at(-1), ['d'], 'hurried: flushed on the next turn');
    await d;
  });

  void test('a failed flush rejects every caller of its turn, and only them', async () => {
    let fail = true;
    const batch = new TickBatch<number>(async () => {
      if (fail) throw new Error('write failed');
    });
    const first = [batch.add(1), batch.add(2)];
    for (const p of first) await assert.rejects(p, /write failed/);
    fail = false;
    await batch.add(3);
  });

  void test('taken items settle with the flush that carries them when given back', async () => {
    const flushed: number[][] = [];
    const batch = new TickBatch<number>(async (items) => {
      flushed.push([...items]);
    });
    const waiting = batch.add(1);
    const taken = batch.drain();
    assert.deepEqual(taken?.items, [1]);
    assert.equal(batch.size, 0);
    await nextTurn();
    assert.deepEqual(flushed, [], 'taken out: not flushed by the batch');
    let settled = false;
    void waiting.then(() => (settled = true));
    void batch.add(2);
    batch.requeue(taken); // its writer failed: they go with the next flush
    assert.equal(batch.size, 2);
    await batch.flush();
    await nextTurn();
    assert.deepEqual(flushed, [[1, 2]], 'given back items go first');
    assert.ok(settled, 'the first caller is resolved by the flush that carried its item');
    assert.equal(batch.drain(), undefined);
  });
});

void describe('TaskSlots', () => {
  void test('a free slot is taken without a promise; waiters get slots in order', async () => {
    const slots = new TaskSlots(2);
    assert.equal(slots.enter(), undefined);
    assert.equal(slots.enter(), undefined);
    assert.equal(slots.running, 2);
    const order: string[] = [];
    const third = slots.enter();
    const fourth = slots.enter();
    assert.ok(third instanceof Promise && fourth instanceof Promise);
    void third.then(() => order.push('third'));
    void fourth.then(() => order.push('fourth'));
    slots.leave();
    await nextTurn();
    assert.deepEqual(order, ['third'], 'a leaving holder hands its slot to the first waiter');
    assert.equal(slots.running, 2);
    slots.leave();
    await nextTurn();
    assert.deepEqual(order, ['third', 'fourth']);
    slots.leave();
    slots.leave();
    assert.equal(slots.running, 0);
  });

  void test('resize lets waiters in at once, and a shrink takes effect as holders leave', async () => {
    const slots = new TaskSlots(1);
    void slots.enter();
    let admitted = false;
    void slots.enter()?.then(() => (admitted = true));
    slots.resize(2);
    await nextTurn();
    assert.ok(admitted);
    assert.equal(slots.running, 2);
    slots.resize(1);
    slots.leave();
    assert.equal(slots.running, 1);
    assert.ok(slots.enter() instanceof Promise, 'full at the new size');
  });
});
