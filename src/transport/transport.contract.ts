/**
 * The transport contract: one suite every {@link Transport} must pass, grouped by capability.
 * Memory runs it as a unit test; SQLite and Redis run it for real. Tests that need a missing
 * capability (or a second connection the harness does not offer) are skipped with the reason.
 *
 * Usage:
 * ```ts
 * transportContract('sqlite', async () => ({ transport: createSqliteTransport(url), cleanup, peer }));
 * ```
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import type { WireMessage } from '../protocol/types.js';
import type { Consumer, Delivery, Transport, TransportCapabilities } from './types.js';

/** What the suite needs from the transport under test. */
export interface TransportHarness {
  /** A fresh, not yet connected transport. The suite connects and closes it. */
  transport: Transport;
  /** Frees whatever the harness made (files, keys). Called after the transport is closed. */
  cleanup(): Promise<void>;
  /**
   * Another connection to the same broker (a second transport instance), not yet connected.
   * Enables the tests of what crosses connections: wake-ups, fanout, and unacked deliveries
   * coming back when their connection closes. The suite connects and closes it.
   */
  peer?: () => Promise<Transport>;
}

/** How long the suite waits for something that should happen (generous; CI machines are slow). */
const EVENTUALLY_MS = 5000;
/** How long the suite watches for something that must NOT happen. */
const QUIET_MS = 150;

/** A message whose identity is `tag` (in the body, the `id` header and the correlation id). */
export function contractMessage(tag: string): WireMessage {
  return {
    body: Buffer.from(
      JSON.stringify([[tag], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]),
    ),
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    headers: { id: tag, task: 'contract.echo', lang: 'py', retries: 0, timelimit: [null, null] },
    properties: { correlationId: tag, replyTo: 'contract-reply', deliveryMode: 2 },
  };
}

const tagOf = (d: Delivery): string => String(d.message.headers['id']);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Collects deliveries and lets a test wait for a count. */
class Inbox {
  readonly items: Delivery[] = [];
  readonly times: number[] = [];
  private waiters: Array<() => void> = [];
  outstanding = 0;
  maxOutstanding = 0;

  readonly push = (delivery: Delivery): void => {
    this.items.push(delivery);
    this.times.push(Date.now());
    this.outstanding++;
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
    for (const wake of this.waiters.splice(0)) wake();
  };

  async settle(delivery: Delivery, how: 'ack' | 'drop' | 'requeue'): Promise<void> {
    this.outstanding--;
    if (how === 'ack') await delivery.ack();
    else await delivery.reject(how === 'requeue');
  }

  async waitFor(count: number, what = `${count} deliveries`): Promise<Delivery[]> {
    const deadline = Date.now() + EVENTUALLY_MS;
    while (this.items.length < count) {
      const left = deadline - Date.now();
      if (left <= 0)
        assert.fail(
          `timed out waiting for ${what}; got ${this.items.length}: ${this.tags().join(',')}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.items.slice(0, count);
  }

  tags(): string[] {
    return this.items.map(tagOf);
  }
}

/** Collects fanout messages. */
class FanoutInbox {
  readonly items: Array<{ tag: string; key: string }> = [];
  readonly push = (message: WireMessage, routingKey: string): void => {
    this.items.push({ tag: String(message.headers['id']), key: routingKey });
  };
  async waitFor(count: number): Promise<void> {
    const deadline = Date.now() + EVENTUALLY_MS;
    while (this.items.length < count) {
      if (Date.now() > deadline)
        assert.fail(`timed out waiting for ${count} broadcasts; got ${this.items.length}`);
      await sleep(5);
    }
  }
}

type Make = () => Promise<TransportHarness>;
type Body = (t: Transport, h: TransportHarness, ctx: TestContext) => Promise<void>;

/** Runs `body` with a connected transport, skipping when `needs` is not declared. */
function run(make: Make, needs: Array<keyof TransportCapabilities>, body: Body) {
  return async (ctx: TestContext): Promise<void> => {
    const h = await make();
    try {
      const missing = needs.filter((cap) => !h.transport.capabilities[cap]);
      if (missing.length > 0) {
        ctx.skip(`${h.transport.kind} does not declare the ${missing.join(', ')} capability`);
        return;
      }
      await h.transport.connect();
      await body(h.transport, h, ctx);
    } finally {
      await h.transport.close();
      await h.cleanup();
    }
  };
}

/** Runs `body` with the transport and a connected peer (skips when the harness has none). */
function withPeer(
  make: Make,
  needs: Array<keyof TransportCapabilities>,
  body: (a: Transport, b: Transport) => Promise<void>,
) {
  return run(make, needs, async (a, h, ctx) => {
    if (!h.peer) {
      ctx.skip('the harness offers no second connection (peer)');
      return;
    }
    const b = await h.peer();
    try {
      await b.connect();
      await body(a, b);
    } finally {
      await b.close();
    }
  });
}

const unique = (what: string): string => `contract.${what}.${randomUUID().slice(0, 8)}`;

async function publishAll(t: Transport, queue: string, tags: readonly string[]): Promise<void> {
  for (const tag of tags)
    await t.publish(contractMessage(tag), { exchange: '', routingKey: queue });
}

function consume(t: Transport, queues: string[], prefetch: number, inbox: Inbox): Consumer {
  return t.consume({ queues, prefetch, onDelivery: inbox.push });
}

/** Registers the transport contract suite for `name`; `make` builds a fresh harness per test. */
export function transportContract(name: string, make: Make): void {
  void describe(`transport contract: ${name}`, () => {
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
  });
}
