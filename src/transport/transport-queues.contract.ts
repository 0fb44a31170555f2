/** The transport contract, queues: publish, consume, prefetch, ack, reject, requeue. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  QUIET_MS,
  contractMessage,
  tagOf,
  sleep,
  Inbox,
  run,
  unique,
  publishAll,
  consume,
  type Make,
} from './transport-support.contract.js';

/** Registers the contract tests of queues. */
export function queueContract(make: Make): void {
  void describe('queues', () => {
    void test(
      'publish then consume: FIFO, the message round-trips, first delivery',
      run(make, [], async (t) => {
        const q = unique('fifo');
        await t.declare({ name: q });
        await publishAll(t, q, ['m1', 'm2', 'm3', 'm4', 'm5']);
        const inbox = new Inbox();
        const consumer = consume(t, [q], 10, inbox);
        const got = await inbox.waitFor(5);
        assert.deepEqual(inbox.tags(), ['m1', 'm2', 'm3', 'm4', 'm5']);
        const first = got[0]!;
        const sent = contractMessage('m1');
        assert.deepEqual(first.message.body, sent.body);
        assert.equal(first.message.contentType, sent.contentType);
        assert.equal(first.message.contentEncoding, sent.contentEncoding);
        assert.deepEqual(first.message.headers, sent.headers);
        assert.equal(first.message.properties.correlationId, 'm1');
        assert.equal(first.message.properties.replyTo, 'contract-reply');
        assert.equal(first.queue, q);
        assert.equal(first.exchange, '');
        assert.equal(first.routingKey, q);
        assert.equal(first.redelivered, false);
        assert.equal(first.deliveryCount, 0);
        assert.equal(new Set(got.map((d) => d.deliveryTag)).size, 5, 'delivery tags are unique');
        for (const d of got) await d.ack();
        await consumer.close();
      }),
    );

    void test(
      'a waiting consumer is woken by a later publish',
      run(make, [], async (t) => {
        const q = unique('wake');
        const inbox = new Inbox();
        const consumer = consume(t, [q], 1, inbox);
        await sleep(20);
        await publishAll(t, q, ['late']);
        await inbox.waitFor(1);
        await inbox.items[0]!.ack();
        await consumer.close();
      }),
    );

    void test(
      'prefetch bounds the unacknowledged deliveries',
      run(make, [], async (t) => {
        const q = unique('prefetch');
        const tags = Array.from({ length: 10 }, (_, i) => `p${i}`);
        await publishAll(t, q, tags);
        const inbox = new Inbox();
        const consumer = consume(t, [q], 3, inbox);
        await inbox.waitFor(3);
        await sleep(QUIET_MS);
        assert.equal(inbox.items.length, 3, 'no more than prefetch=3 handed out before any ack');
        await inbox.settle(inbox.items[0]!, 'ack');
        await inbox.waitFor(4);
        await sleep(QUIET_MS);
        assert.equal(inbox.items.length, 4, 'one ack frees exactly one slot');
        for (let i = 1; i < 10; i++) {
          await inbox.waitFor(i + 1);
          await inbox.settle(inbox.items[i]!, 'ack');
        }
        assert.deepEqual(inbox.tags(), tags);
        assert.ok(
          inbox.maxOutstanding <= 3,
          `held ${inbox.maxOutstanding} at once with prefetch 3`,
        );
        assert.equal(await t.size(q), 0);
        await consumer.close();
      }),
    );

    void test(
      'finished() frees a prefetch slot for up to `finishing` deliveries, which stay held',
      run(make, [], async (t, _h, ctx) => {
        const q = unique('finishing');
        await publishAll(t, q, ['f0', 'f1', 'f2', 'f3', 'f4']);
        const inbox = new Inbox();
        const consumer = t.consume({
          queues: [q],
          prefetch: 2,
          finishing: 1,
          onDelivery: inbox.push,
        });
        const [d0, d1] = await inbox.waitFor(2);
        if (!d0!.finished) {
          ctx.skip(`${t.kind} does not implement Delivery.finished()`);
          for (const d of inbox.items) await d.ack();
          await consumer.close();
          return;
        }
        d0!.finished();
        await inbox.waitFor(3, 'a delivery in the slot of the finished one');
        d1!.finished?.();
        await sleep(QUIET_MS);
        assert.equal(inbox.items.length, 3, 'no more than finishing=1 finished ones on top');
        await d0!.ack();
        await inbox.waitFor(4, 'a delivery once a finished one above the bound is settled');
        await sleep(QUIET_MS);
        assert.equal(inbox.items.length, 4);
        await d1!.reject(true); // finished() did not settle it: it can still be requeued
        for (const d of inbox.items.slice(2)) await d.ack();
        await inbox.waitFor(6, 'f4 and the requeued finished f1');
        assert.deepEqual(inbox.tags().slice(4).sort(), ['f1', 'f4']);
        for (const d of inbox.items.slice(4)) await d.ack();
        assert.equal(await t.size(q), 0);
        await consumer.close();
      }),
    );

    void test(
      'setPrefetch raises the bound of a running consumer',
      run(make, [], async (t) => {
        const q = unique('setprefetch');
        await publishAll(t, q, ['a', 'b', 'c']);
        const inbox = new Inbox();
        const consumer = consume(t, [q], 1, inbox);
        await inbox.waitFor(1);
        await sleep(QUIET_MS);
        assert.equal(inbox.items.length, 1);
        consumer.setPrefetch(3);
        await inbox.waitFor(3);
        for (const d of inbox.items) await d.ack();
        await consumer.close();
      }),
    );

    void test(
      'ack removes the message for good',
      run(make, [], async (t) => {
        const q = unique('ack');
        await publishAll(t, q, ['only']);
        const inbox = new Inbox();
        const consumer = consume(t, [q], 1, inbox);
        const [d] = await inbox.waitFor(1);
        await d!.ack();
        await consumer.close();
        assert.equal(await t.size(q), 0);
        const again = new Inbox();
        const second = consume(t, [q], 1, again);
        await sleep(QUIET_MS);
        assert.equal(again.items.length, 0, 'an acked message is never delivered again');
        await second.close();
      }),
    );

    void test(
      'reject(true) requeues and marks the redelivery',
      run(make, [], async (t) => {
        const q = unique('requeue');
        await publishAll(t, q, ['r']);
        const inbox = new Inbox();
        const consumer = consume(t, [q], 1, inbox);
        const [first] = await inbox.waitFor(1);
        await inbox.settle(first!, 'requeue');
        const [, second] = await inbox.waitFor(2);
        assert.equal(tagOf(second!), 'r');
        assert.equal(second!.redelivered, true);
        assert.ok(
          second!.deliveryCount >= 1,
          `deliveryCount ${second!.deliveryCount} after one requeue`,
        );
        await second!.ack();
        await consumer.close();
      }),
    );

    void test(
      'reject(false) drops the message',
      run(make, [], async (t) => {
        const q = unique('drop');
        await publishAll(t, q, ['x', 'y']);
        const inbox = new Inbox();
        const consumer = consume(t, [q], 1, inbox);
        const [x] = await inbox.waitFor(1);
        await inbox.settle(x!, 'drop');
        const [, y] = await inbox.waitFor(2);
        assert.equal(tagOf(y!), 'y');
        await y!.ack();
        await sleep(QUIET_MS);
        assert.deepEqual(inbox.tags(), ['x', 'y'], 'a dropped message does not come back');
        assert.equal(await t.size(q), 0);
        await consumer.close();
      }),
    );

    void test(
      'size counts ready messages and purge removes them',
      run(make, [], async (t) => {
        const q = unique('purge');
        const other = unique('purge-other');
        assert.equal(await t.size(q), 0);
        await publishAll(t, q, ['1', '2', '3']);
        await publishAll(t, other, ['keep']);
        assert.equal(await t.size(q), 3);
        assert.equal(await t.purge(q), 3);
        assert.equal(await t.size(q), 0);
        assert.equal(await t.size(other), 1, 'purge touches only its queue');
        assert.equal(await t.purge(q), 0);
        await t.purge(other);
      }),
    );

    void test(
      'one consumer serves several queues; addQueue and cancelQueue change them',
      run(make, [], async (t) => {
        const a = unique('qa');
        const b = unique('qb');
        const inbox = new Inbox();
        const consumer = consume(t, [a], 10, inbox);
        assert.deepEqual([...consumer.queues], [a]);
        await publishAll(t, b, ['b1']);
        await sleep(QUIET_MS);
        assert.equal(inbox.items.length, 0, 'a queue not consumed is not delivered');
        consumer.addQueue(b);
        assert.deepEqual([...consumer.queues].sort(), [a, b].sort());
        await inbox.waitFor(1);
        await publishAll(t, a, ['a1']);
        await inbox.waitFor(2);
        assert.deepEqual(
          inbox.items.map((d) => d.queue),
          [b, a],
        );
        consumer.cancelQueue(a);
        assert.deepEqual([...consumer.queues], [b]);
        await publishAll(t, a, ['a2']);
        await publishAll(t, b, ['b2']);
        await inbox.waitFor(3);
        await sleep(QUIET_MS);
        assert.deepEqual(inbox.tags(), ['b1', 'a1', 'b2']);
        assert.equal(await t.size(a), 1);
        for (const d of inbox.items) await d.ack();
        await consumer.close();
        await t.purge(a);
      }),
    );

    void test(
      'declare binds queues to named exchanges (direct and topic)',
      run(make, [], async (t) => {
        const ex = unique('ex');
        const topic = unique('topic');
        const [q1, q2, q3] = [unique('q1'), unique('q2'), unique('q3')];
        await t.declare({ name: q1, exchange: ex, exchangeType: 'direct', routingKey: 'k1' });
        await t.declare({ name: q1, exchange: ex, exchangeType: 'direct', routingKey: 'k1' });
        await t.declare({ name: q2, exchange: ex, exchangeType: 'direct', routingKey: 'k2' });
        await t.declare({ name: q3, exchange: topic, exchangeType: 'topic', routingKey: 'a.#' });
        await t.publish(contractMessage('to-k1'), { exchange: ex, routingKey: 'k1' });
        await t.publish(contractMessage('to-a.b.c'), { exchange: topic, routingKey: 'a.b.c' });
        await t.publish(contractMessage('to-b'), { exchange: topic, routingKey: 'b' });
        assert.deepEqual([await t.size(q1), await t.size(q2), await t.size(q3)], [1, 0, 1]);
        const inbox = new Inbox();
        const consumer = consume(t, [q1, q3], 10, inbox);
        await inbox.waitFor(2);
        const byQueue = Object.fromEntries(inbox.items.map((d) => [d.queue, d]));
        assert.equal(byQueue[q1]?.exchange, ex);
        assert.equal(byQueue[q1]?.routingKey, 'k1');
        assert.equal(byQueue[q3]?.routingKey, 'a.b.c');
        for (const d of inbox.items) await d.ack();
        await consumer.close();
      }),
    );

    void test(
      'a closed consumer gets nothing more, and its deliveries can still be acked',
      run(make, [], async (t) => {
        const q = unique('close');
        await publishAll(t, q, ['held']);
        const inbox = new Inbox();
        const consumer = consume(t, [q], 5, inbox);
        const [held] = await inbox.waitFor(1);
        await consumer.close();
        await consumer.close();
        await publishAll(t, q, ['after']);
        await sleep(QUIET_MS);
        assert.equal(inbox.items.length, 1);
        await held!.ack();
        assert.equal(await t.size(q), 1);
        await t.purge(q);
      }),
    );
  });
}
