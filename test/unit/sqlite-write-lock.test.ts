/**
 * writeTransactions(): a write that finds another process holding the SQLite write lock waits
 * for it in short pauses, then hands the rest of the wait to SQLite's busy timeout; the
 * transaction's function runs exactly once, and a lock held past the timeout gives SQLITE_BUSY.
 * The other process is a real one (a child holding BEGIN IMMEDIATE), as in a deployment.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isSqliteBusy, openSqliteFile, writeTransactions } from '../../src/util/sqlite-file.js';

const dir = mkdtempSync(join(tmpdir(), 'celeriac-write-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A child that takes the write lock of `path`, says "locked", and commits after `holdMs`. */
async function holdLock(path: string, holdMs: number): Promise<ChildProcess> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(${JSON.stringify(path)});
    db.exec('BEGIN IMMEDIATE');
    db.prepare('INSERT INTO t (v) VALUES (?)').run('child');
    process.stdout.write('locked\\n');
    setTimeout(() => { db.exec('COMMIT'); db.close(); }, ${holdMs});
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`the lock holder exited (${code})`)));
  });
  return child;
}

function openDb(name: string, busyTimeoutMs: number) {
  const path = join(dir, name);
  const db = openSqliteFile(path, {
    busyTimeoutMs,
    role: 'test',
    unreachableCode: 'BROKER_UNREACHABLE',
    init: (d) => d.exec('CREATE TABLE IF NOT EXISTS t (v TEXT)'),
  });
  return { path, db };
}

void test('a write waits for a lock held by another process, and runs once', async () => {
  const { path, db } = openDb('wait.db', 5000);
  const tx = writeTransactions(db, 5000);
  const child = await holdLock(path, 60);
  let runs = 0;
  // Synchronous, as the pump's transaction is: it must outlast the child's 60 ms hold.
  let timeoutInside: unknown;
  tx(() => {
    runs++;
    // Once the lock is held, the transaction runs with the configured busy timeout.
    timeoutInside = db.pragma('busy_timeout', { simple: true });
    db.prepare('INSERT INTO t (v) VALUES (?)').run('parent');
  });
  assert.equal(timeoutInside, 5000);
  assert.equal(runs, 1);
  const rows = db.prepare('SELECT v FROM t ORDER BY rowid').pluck().all();
  assert.deepEqual(rows, ['child', 'parent']);
  // The connection's own busy timeout is back to the configured one afterwards.
  assert.equal(db.pragma('busy_timeout', { simple: true }), 5000);
  child.kill();
  db.close();
});

void test('a lock held past the busy timeout gives SQLITE_BUSY without running the function', async () => {
  const { path, db } = openDb('busy.db', 100);
  const tx = writeTransactions(db, 100);
  const child = await holdLock(path, 3000);
  let runs = 0;
  assert.throws(
    () => tx(() => runs++),
    (error: unknown) => isSqliteBusy(error),
  );
  assert.equal(runs, 0);
  assert.equal(db.pragma('busy_timeout', { simple: true }), 100);
  child.kill();
  db.close();
});

void test('an error inside the function is not retried and rolls the transaction back', () => {
  const { db } = openDb('error.db', 1000);
  const tx = writeTransactions(db, 1000);
  let runs = 0;
  assert.throws(
    () =>
      tx(() => {
        runs++;
        db.prepare('INSERT INTO t (v) VALUES (?)').run('rolled back');
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(runs, 1);
  assert.equal(db.prepare('SELECT count(*) FROM t').pluck().get(), 0);
  db.close();
});
