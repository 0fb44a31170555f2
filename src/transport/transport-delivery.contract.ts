/** The transport contract, delivery options: priorities and delayed delivery. */
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

/** Registers the contract tests of priorities and delayed delivery. */
export function deliveryOptionsContract(make: Make): void {
  void describe('priorities', () => {
    void test(
      'lower numbers first, in kombu Redis steps 0-2, 3-5, 6-8, 9; FIFO within a step',
      run(make, ['priorities'], async (t) => {
        const q = unique('prio');
        const order = [9, 5, 0, 2, 3, 6];
        for (const p of order)
          await t.publish(
            contractMessage(`p${p}`),
            { exchange: '', routingKey: q },
            { priority: p },
          );
        assert.equal(await t.size(q), 6, 'size counts every priority');
        const inbox = new Inbox();
        const consumer = consume(t, [q], 1, inbox);
        for (let i = 0; i < order.length; i++) {
          await inbox.waitFor(i + 1);
          await inbox.settle(inbox.items[i]!, 'ack');
        }
        assert.deepEqual(inbox.tags(), ['p0', 'p2', 'p5', 'p3', 'p6', 'p9']);
        await consumer.close();
      }),
    );
  });

  void describe('delayed delivery', () => {
    void test(
      'defer(dueAt) frees the slot and redelivers not before dueAt, promptly after',
      run(make, ['delayedDelivery'], async (t) => {
        const q = unique('defer');
        await publishAll(t, q, ['later', 'now']);
        const inbox = new Inbox();
        const consumer = consume(t, [q], 1, inbox);
        const [first] = await inbox.waitFor(1);
        assert.equal(tagOf(first!), 'later');
        const dueAt = Date.now() + 400;
        inbox.outstanding--;
        await first!.defer(dueAt);
        const [, second] = await inbox.waitFor(2, 'the next message once defer() freed the slot');
        assert.equal(tagOf(second!), 'now');
        assert.ok(
          inbox.times[1]! < dueAt,
          'the freed slot was used before the deferred message was due',
        );
        await inbox.settle(second!, 'ack');
        const [, , third] = await inbox.waitFor(3, 'the deferred message');
        assert.equal(tagOf(third!), 'later');
        const at = inbox.times[2]!;
        assert.ok(at >= dueAt, `redelivered ${dueAt - at} ms before it was due`);
        assert.ok(
          at <= dueAt + 1000,
          `redelivered ${at - dueAt} ms after it was due (allowed: 1000)`,
        );
        await third!.ack();
        await consumer.close();
      }),
    );

    void test(
      'a deferred message waits while no one consumes and is not ready before it is due',
      run(make, ['delayedDelivery'], async (t) => {
        const q = unique('defer-size');
        await publishAll(t, q, ['d']);
        const inbox = new Inbox();
        const consumer = consume(t, [q], 1, inbox);
        const [d] = await inbox.waitFor(1);
        await consumer.close();
        await d!.defer(Date.now() + 60_000);
        assert.equal(await t.size(q), 0, 'a message not yet due is not ready');
        const again = new Inbox();
        const second = consume(t, [q], 1, again);
        await sleep(QUIET_MS);
        assert.equal(again.items.length, 0);
        await second.close();
      }),
    );
  });
}
