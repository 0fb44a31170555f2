/**
 * Several processes share one SQLite broker file: every message is delivered exactly once while
 * all consumers ack, and the messages held by a consumer killed with SIGKILL come back to the
 * survivors (dead-holder detection), none lost.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { createSqliteTransport } from '../../src/transport/sqlite/index.js';
import { contractMessage } from '../../src/transport/transport.contract.js';
import type { Transport } from '../../src/transport/types.js';
import { spawnManaged, type ManagedProcess } from '../support/process.js';

const helper = fileURLToPath(new URL('./helpers/sqlite-consumer.ts', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Events {
  got: Array<{ id: string; count: number; by: number }>;
  acked: Array<{ id: string; by: number }>;
}

function events(children: readonly ManagedProcess[]): Events {
  const out: Events = { got: [], acked: [] };
  for (const child of children) {
    for (const line of child.output().split('\n')) {
      const m = /^(GOT|ACK) (\S+)(?: (\d+))?$/.exec(line);
      if (!m) continue;
      if (m[1] === 'GOT') out.got.push({ id: m[2]!, count: Number(m[3]), by: child.pid });
      else out.acked.push({ id: m[2]!, by: child.pid });
    }
  }
  return out;
}

async function until(
  check: () => boolean,
  what: string,
  children: readonly ManagedProcess[],
  ms = 60_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) {
      assert.fail(
        `timed out waiting for ${what}. Last output:\n${children.map((c) => c.output().slice(-1500)).join('\n---\n')}`,
      );
    }
    await sleep(20);
  }
}

function startConsumer(
  url: string,
  queue: string,
  prefetch: number,
  mode: 'ack' | 'hold',
): ManagedProcess {
  return spawnManaged(
    process.execPath,
    ['--import', 'tsx', helper, url, queue, String(prefetch), mode],
    { keepChars: 5_000_000, stopTimeoutMs: 5000 },
  );
}

async function publish(t: Transport, queue: string, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(
      ids
        .slice(i, i + 50)
        .map((id) => t.publish(contractMessage(id), { exchange: '', routingKey: queue })),
    );
  }
}

function duplicates(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
}

void describe('sqlite broker shared by several processes', () => {
  void test('3 consumer processes, 2000 messages: each delivered and acked exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-mp-'));
    const url = `sqlite:///${join(dir, 'broker.db')}`;
    const producer = createSqliteTransport(url);
    const children = [1, 2, 3].map(() => startConsumer(url, 'work', 20, 'ack'));
    try {
      await producer.connect();
      await Promise.all(children.map((c) => c.waitForOutput(/^READY/, 30_000)));
      const ids = Array.from({ length: 2000 }, (_, i) => `m${i}`);
      await publish(producer, 'work', ids);
      await until(() => events(children).acked.length >= ids.length, '2000 acks', children);
      await sleep(300);
      const { got, acked } = events(children);
      assert.deepEqual(duplicates(got.map((g) => g.id)), [], 'no message was delivered twice');
      assert.deepEqual(duplicates(acked.map((a) => a.id)), []);
      assert.deepEqual(new Set(acked.map((a) => a.id)), new Set(ids), 'every message was acked');
      assert.ok(
        got.every((g) => g.count === 0),
        'no redeliveries',
      );
      const share = new Set(acked.map((a) => a.by));
      assert.equal(share.size, 3, 'all three processes took part');
      assert.equal(await producer.size('work'), 0);
    } finally {
      await Promise.all(children.map((c) => c.stop()));
      await producer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test('a consumer killed with SIGKILL: its unacked messages come back to the survivors, none lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-mp-'));
    const url = `sqlite:///${join(dir, 'broker.db')}`;
    const producer = createSqliteTransport(url);
    const holder = startConsumer(url, 'work', 50, 'hold');
    const survivors: ManagedProcess[] = [];
    const all = (): ManagedProcess[] => [holder, ...survivors];
    try {
      await producer.connect();
      await holder.waitForOutput(/^READY/, 30_000);
      const ids = Array.from({ length: 300 }, (_, i) => `k${i}`);
      await publish(producer, 'work', ids);
      await until(() => events([holder]).got.length === 50, 'the holder to take its 50', all());
      const held = new Set(events([holder]).got.map((g) => g.id));
      survivors.push(startConsumer(url, 'work', 10, 'ack'), startConsumer(url, 'work', 10, 'ack'));
      await Promise.all(survivors.map((c) => c.waitForOutput(/^READY/, 30_000)));
      await until(
        () => events(survivors).acked.length === ids.length - 50,
        'the survivors to ack the other 250',
        all(),
      );
      assert.equal(
        events(survivors).got.some((g) => held.has(g.id)),
        false,
        'held messages stay held while the holder lives',
      );
      process.kill(holder.pid, 'SIGKILL');
      await until(
        () => events(survivors).acked.length === ids.length,
        'the held messages to come back',
        all(),
        20_000,
      );
      await sleep(300);
      const { got, acked } = events(survivors);
      assert.deepEqual(duplicates(acked.map((a) => a.id)), [], 'each message acked once');
      assert.deepEqual(new Set(acked.map((a) => a.id)), new Set(ids), 'none lost');
      const back = got.filter((g) => held.has(g.id));
      assert.equal(back.length, 50);
      assert.ok(
        back.every((g) => g.count === 1),
        'they come back as redeliveries (deliveryCount 1)',
      );
      assert.equal(await producer.size('work'), 0);
    } finally {
      await Promise.all(all().map((c) => c.stop()));
      await producer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
