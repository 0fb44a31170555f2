/** The transport contract across connections: wake-ups, fanout, and the lifecycle. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  QUIET_MS,
  contractMessage,
  tagOf,
  sleep,
  Inbox,
  FanoutInbox,
  run,
  withPeer,
  unique,
  publishAll,
  consume,
  type Make,
} from './transport-support.contract.js';

/** Registers the contract tests of connections, fanout and the lifecycle. */
export function connectionsContract(make: Make): void {
  void describe('connections', () => {
    void test(
      'a consumer on another connection is woken by a publish',
      withPeer(make, [], async (a, b) => {
        const q = unique('peer-wake');
        const inbox = new Inbox();
        const consumer = consume(b, [q], 2, inbox);
        await sleep(20);
        await publishAll(a, q, ['x']);
        await inbox.waitFor(1);
        await inbox.items[0]!.ack();
        await consumer.close();
      }),
    );

    void test(
      'deliveries left unacked come back, marked redelivered, when their connection closes',
      withPeer(make, [], async (a, b) => {
        const q = unique('restore');
        await publishAll(a, q, ['lost', 'kept']);
        const inbox = new Inbox();
        const consumer = consume(a, [q], 2, inbox);
        await inbox.waitFor(2);
        await inbox.items[1]!.ack();
        await consumer.close();
        await a.close();
        const other = new Inbox();
        const survivor = consume(b, [q], 2, other);
        const [back] = await other.waitFor(1, 'the unacked message on the other connection');
        assert.equal(tagOf(back!), 'lost');
        assert.equal(back!.redelivered, true);
        assert.ok(back!.deliveryCount >= 1);
        await back!.ack();
        await sleep(QUIET_MS);
        assert.equal(other.items.length, 1, 'the acked message did not come back');
        await survivor.close();
      }),
    );
  });

  void describe('fanout', () => {
    void test(
      'subscribers get broadcasts whose routing key matches their binding key',
      run(make, ['fanout'], async (t) => {
        const ex = unique('events');
        const all = new FanoutInbox();
        const workers = new FanoutInbox();
        const exact = new FanoutInbox();
        const star = new FanoutInbox();
        const elsewhere = new FanoutInbox();
        const subs = [
          await t.subscribe(ex, '#', all.push),
          await t.subscribe(ex, 'worker.#', workers.push),
          await t.subscribe(ex, 'worker.heartbeat', exact.push),
          await t.subscribe(ex, '*.sent', star.push),
          await t.subscribe(unique('other'), '#', elsewhere.push),
        ];
        for (const key of ['worker.heartbeat', 'worker.online', 'task.sent', 'task.multi']) {
          await t.broadcast(ex, key, contractMessage(key));
        }
        await all.waitFor(4);
        await workers.waitFor(2);
        await exact.waitFor(1);
        await star.waitFor(1);
        await sleep(QUIET_MS);
        assert.deepEqual(
          all.items.map((i) => i.key),
          ['worker.heartbeat', 'worker.online', 'task.sent', 'task.multi'],
        );
        assert.deepEqual(
          all.items.map((i) => i.tag),
          ['worker.heartbeat', 'worker.online', 'task.sent', 'task.multi'],
        );
        assert.deepEqual(
          workers.items.map((i) => i.key),
          ['worker.heartbeat', 'worker.online'],
        );
        assert.deepEqual(
          exact.items.map((i) => i.key),
          ['worker.heartbeat'],
        );
        assert.deepEqual(
          star.items.map((i) => i.key),
          ['task.sent'],
        );
        assert.equal(elsewhere.items.length, 0, 'other exchanges do not see it');
        for (const s of subs) await s.close();
      }),
    );

    void test(
      'a closed subscription gets nothing more',
      run(make, ['fanout'], async (t) => {
        const ex = unique('events');
        const inbox = new FanoutInbox();
        const sub = await t.subscribe(ex, '#', inbox.push);
        await t.broadcast(ex, 'a', contractMessage('a'));
        await inbox.waitFor(1);
        await sub.close();
        await sub.close();
        await t.broadcast(ex, 'b', contractMessage('b'));
        await sleep(QUIET_MS);
        assert.deepEqual(
          inbox.items.map((i) => i.tag),
          ['a'],
        );
      }),
    );

    void test(
      'broadcasts reach subscribers on another connection',
      withPeer(make, ['fanout'], async (a, b) => {
        const ex = unique('events');
        const inbox = new FanoutInbox();
        const sub = await b.subscribe(ex, 'worker.#', inbox.push);
        await a.broadcast(ex, 'worker.online', contractMessage('hello'));
        await a.broadcast(ex, 'task.sent', contractMessage('skip'));
        await inbox.waitFor(1);
        await sleep(QUIET_MS);
        assert.deepEqual(
          inbox.items.map((i) => i.tag),
          ['hello'],
        );
        await sub.close();
      }),
    );
  });

  void describe('lifecycle', () => {
    void test(
      'close() is idempotent and leaves no timers or watchers behind',
      run(make, [], async (t) => {
        const countHandles = (): number =>
          process
            .getActiveResourcesInfo()
            .filter((r) => r === 'Timeout' || r === 'FSEvent' || r === 'StatWatcher').length;
        const before = countHandles();
        const q = unique('life');
        const inbox = new Inbox();
        consume(t, [q], 2, inbox);
        await publishAll(t, q, ['a', 'b']);
        const [a] = await inbox.waitFor(1);
        if (t.capabilities.delayedDelivery) await a!.defer(Date.now() + 60_000);
        if (t.capabilities.fanout) await t.subscribe(unique('ev'), '#', () => undefined);
        await Promise.all([t.close(), t.close()]);
        await t.close();
        await new Promise((resolve) => setImmediate(resolve));
        assert.ok(
          countHandles() <= before,
          `timers/watchers left after close: ${process.getActiveResourcesInfo().join(',')}`,
        );
      }),
    );
  });
}
