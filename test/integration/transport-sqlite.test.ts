import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { ConfigError, ConnectionError } from '../../src/errors.js';
import { createSqliteTransport } from '../../src/transport/sqlite/index.js';
import { hostIdentity } from '../../src/transport/sqlite/owner.js';
import { contractMessage, transportContract } from '../../src/transport/transport.contract.js';
import { sqlitePathFromUrl } from '../../src/util/sqlite-file.js';

transportContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-sqlite-'));
  const url = `sqlite:///${join(dir, 'sub', 'broker.db')}`;
  return {
    transport: createSqliteTransport(url, { pollingInterval: 0.25 }),
    peer: async () => createSqliteTransport(url),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

// ---- SQLite specifics -------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function tempDir(): { dir: string; url: string; file: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-sqlite-'));
  const file = join(dir, 'broker.db');
  return {
    dir,
    file,
    url: `sqlite:///${file}`,
    [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A pid that certainly belongs to no running process. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

void describe('sqlite transport', () => {
  void test('URLs: three slashes are relative to the working directory, four are absolute', () => {
    assert.equal(sqlitePathFromUrl('sqlite:///data/x.db'), resolve('data/x.db'));
    assert.equal(sqlitePathFromUrl('sqlite:////var/tmp/x.db'), '/var/tmp/x.db');
    assert.equal(sqlitePathFromUrl('db+sqlite:////var/tmp/x.db?mode=ro'), '/var/tmp/x.db');
    for (const bad of [
      'sqlite://',
      'sqlite:///',
      'sqlite://x.db',
      'sqlite:///:memory:',
      'redis://h',
    ]) {
      assert.throws(
        () => createSqliteTransport(bad),
        (e: unknown) => e instanceof ConfigError && e.code === 'URL_INVALID',
        bad,
      );
    }
  });

  void test('the parent folder is created; an impossible path is a STORE_UNWRITABLE ConnectionError', async () => {
    using tmp = tempDir();
    const nested = join(tmp.dir, 'a', 'b', 'c.db');
    const t = createSqliteTransport(`sqlite:///${nested}`);
    await t.connect();
    assert.ok(existsSync(nested));
    await t.close();
    writeFileSync(join(tmp.dir, 'plain-file'), 'not a folder');
    const bad = join(tmp.dir, 'plain-file', 'x.db');
    const u = createSqliteTransport(`sqlite:///${bad}`);
    await assert.rejects(u.connect(), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.equal(e.code, 'STORE_UNWRITABLE');
      assert.match(e.message, new RegExp(bad.replace(/[/.]/g, '\\$&')));
      assert.ok(e.hint && /writable/.test(e.hint), 'the message says how to fix it');
      return true;
    });
    await u.close();
    writeFileSync(join(tmp.dir, 'junk.db'), Buffer.alloc(4096, 7));
    const junk = createSqliteTransport(`sqlite:///${join(tmp.dir, 'junk.db')}`);
    await assert.rejects(
      junk.connect(),
      (e: unknown) => e instanceof ConnectionError && e.code === 'BROKER_UNREACHABLE',
    );
    await junk.close();
  });

  void test("another connection's publish wakes a consumer through the file watch, not the poll", async () => {
    using tmp = tempDir();
    const a = createSqliteTransport(tmp.url, { pollingInterval: 120 });
    const b = createSqliteTransport(tmp.url, { pollingInterval: 120 });
    const got: string[] = [];
    const consumer = b.consume({
      queues: ['w'],
      prefetch: 5,
      onDelivery: (d) => {
        got.push(String(d.message.headers['id']));
        void d.ack();
      },
    });
    await sleep(50);
    for (const tag of ['1', '2', '3'])
      await a.publish(contractMessage(tag), { exchange: '', routingKey: 'w' });
    await until(() => got.length === 3, 'three deliveries woken by the watch (the poll is 120 s)');
    assert.deepEqual(got, ['1', '2', '3']);
    await consumer.close();
    await Promise.all([a.close(), b.close()]);
  });

  void test('deliveryCount counts claims across connections', async () => {
    using tmp = tempDir();
    await using pub = createSqliteTransport(tmp.url);
    await pub.publish(contractMessage('c'), { exchange: '', routingKey: 'q' });
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = createSqliteTransport(tmp.url);
      const seen: Array<{ deliveryCount: number; redelivered: boolean }> = [];
      t.consume({ queues: ['q'], prefetch: 1, onDelivery: (d) => seen.push(d) });
      await until(() => seen.length === 1, `claim ${i + 1}`);
      counts.push(seen[0]!.deliveryCount);
      assert.equal(seen[0]!.redelivered, i > 0);
      await t.close();
    }
    assert.deepEqual(counts, [0, 1, 2]);
  });

  void test('messages held by a dead process on this host come back at once; live holders keep theirs', async () => {
    using tmp = tempDir();
    const t = createSqliteTransport(tmp.url, { reapInterval: 0.05, visibilityTimeout: 3600 });
    await t.publish(contractMessage('orphan'), { exchange: '', routingKey: 'q' });
    await t.publish(contractMessage('alive'), { exchange: '', routingKey: 'q' });
    const db = new Database(tmp.file);
    const host = hostIdentity();
    const far = Date.now() + 3_600_000;
    const own = db.prepare(
      "UPDATE celeriac_messages SET state = 1, owner = ?, owner_host = ?, owner_pid = ?, owner_start = 0, lease_until = ?, claims = 1 WHERE json_extract(headers, '$.id') = ?",
    );
    own.run('ghost', host, deadPid(), far, 'orphan');
    own.run('parent', host, process.ppid, far, 'alive');
    const seen: string[] = [];
    const consumer = t.consume({
      queues: ['q'],
      prefetch: 5,
      onDelivery: (d) => seen.push(String(d.message.headers['id'])),
    });
    await until(() => seen.length === 1, "the dead holder's message");
    await sleep(200);
    assert.deepEqual(
      seen,
      ['orphan'],
      'a live holder on this host keeps its message, however old the lease',
    );
    await consumer.close();
    db.close();
    await t.close();
  });

  void test('leases decide for holders on other hosts; a live consumer renews its own', async () => {
    using tmp = tempDir();
    const t = createSqliteTransport(tmp.url, { reapInterval: 0.05, visibilityTimeout: 0.3 });
    for (const tag of ['expired', 'leased', 'mine'])
      await t.publish(contractMessage(tag), { exchange: '', routingKey: 'q' });
    const db = new Database(tmp.file);
    const own = db.prepare(
      "UPDATE celeriac_messages SET state = 1, owner = ?, owner_host = ?, owner_pid = 1, owner_start = 0, lease_until = ?, claims = 1 WHERE json_extract(headers, '$.id') = ?",
    );
    own.run('remote', 'elsewhere/pid:[1]', Date.now() - 1, 'expired');
    own.run('remote', 'elsewhere/pid:[1]', Date.now() + 3_600_000, 'leased');
    const seen: string[] = [];
    const consumer = t.consume({
      queues: ['q'],
      prefetch: 5,
      onDelivery: (d) => seen.push(String(d.message.headers['id'])),
    });
    await until(() => seen.length === 2, 'the expired remote lease and the ready message');
    assert.deepEqual(seen.sort(), ['expired', 'mine']);
    await sleep(700);
    const lease = db
      .prepare("SELECT lease_until FROM celeriac_messages WHERE json_extract(headers, '$.id') = ?")
      .pluck();
    assert.ok(
      Number(lease.get('mine')) > Date.now(),
      'the holder renewed its lease past the 0.3 s visibility timeout',
    );
    assert.equal(seen.length, 2, 'nothing else came back');
    await consumer.close();
    db.close();
    await t.close();
  });

  void test('old broadcasts are pruned', async () => {
    using tmp = tempDir();
    await using t = createSqliteTransport(tmp.url);
    await t.connect();
    const db = new Database(tmp.file);
    db.prepare(
      `INSERT INTO celeriac_broadcasts (exchange, routing_key, content_type, content_encoding, headers, properties, body, created_at)
      VALUES ('ev', 'k', 'application/json', 'utf-8', '{}', '{}', x'00', ?)`,
    ).run(Date.now() - 120_000);
    await t.broadcast('ev', 'k', contractMessage('new'));
    assert.deepEqual(
      db
        .prepare('SELECT routing_key, created_at > ? AS fresh FROM celeriac_broadcasts')
        .all(Date.now() - 60_000),
      [{ routing_key: 'k', fresh: 1 }],
    );
    db.close();
  });

  void test('close() commits the acks queued just before it', async () => {
    using tmp = tempDir();
    const t = createSqliteTransport(tmp.url);
    await t.publish(contractMessage('x'), { exchange: '', routingKey: 'q' });
    const seen: Array<{ ack(): Promise<void> }> = [];
    t.consume({ queues: ['q'], prefetch: 1, onDelivery: (d) => seen.push(d) });
    await until(() => seen.length === 1, 'the delivery');
    const acked = seen[0]!.ack();
    await t.close();
    await acked;
    await using again = createSqliteTransport(tmp.url);
    assert.equal(await again.size('q'), 0);
  });
});
