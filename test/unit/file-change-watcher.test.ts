/**
 * FileChangeWatcher: a write wakes the listener at once and once more TRAILING_CHECK_MS later
 * (SQLite's WAL write fires before the commit is visible: a reader woken in between sees
 * nothing new, and without the trailing call it would wait for the next poll); stop() ends
 * every call; the poll still runs when no notification comes.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileChangeWatcher, TRAILING_CHECK_MS } from '../../src/util/wakeup.js';

const dir = mkdtempSync(join(tmpdir(), 'celeriac-watch-'));
const started: FileChangeWatcher[] = [];
after(() => {
  for (const w of started) w.stop(); // also when an assertion failed first
  rmSync(dir, { recursive: true, force: true });
});

async function until(what: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(1);
  }
}

void test('a write calls onChange at once and once more after TRAILING_CHECK_MS', async () => {
  const path = join(dir, 'wal');
  writeFileSync(path, '');
  const calls: number[] = [];
  const w = new FileChangeWatcher({
    path,
    pollMs: 60_000,
    onChange: () => calls.push(performance.now()),
  });
  w.start();
  started.push(w);
  assert.ok(w.watching);
  const at = performance.now();
  appendFileSync(path, 'frame');
  await until(() => calls.length >= 2);
  await sleep(TRAILING_CHECK_MS + 20);
  const last = calls.at(-1)!;
  assert.ok(
    last - calls[0]! >= TRAILING_CHECK_MS - 0.5,
    `trailing call ${last - calls[0]!} ms after the first`,
  );
  assert.ok(calls[0]! >= at);
  // One trailing call per burst, not one per event: a burst of writes adds at most a few.
  const before = calls.length;
  for (let i = 0; i < 20; i++) appendFileSync(path, 'frame');
  await sleep(TRAILING_CHECK_MS + 30);
  const trailing = calls.length - before;
  assert.ok(trailing >= 2 && trailing <= 22, `${trailing} calls for a burst of 20 writes`);
  w.stop();
});

void test('stop() cancels a pending trailing call', async () => {
  const path = join(dir, 'wal-stop');
  writeFileSync(path, '');
  let calls = 0;
  const w = new FileChangeWatcher({ path, pollMs: 60_000, onChange: () => calls++ });
  w.start();
  started.push(w);
  appendFileSync(path, 'frame');
  await until(() => calls >= 1);
  w.stop();
  const seen = calls;
  await sleep(TRAILING_CHECK_MS + 30);
  assert.equal(calls, seen);
});

void test('without notifications (no file yet) the poll calls onChange', async () => {
  let calls = 0;
  const w = new FileChangeWatcher({
    path: join(dir, 'missing', 'wal'),
    pollMs: 20,
    onChange: () => calls++,
  });
  w.start();
  started.push(w);
  assert.equal(w.watching, false);
  await until(() => calls >= 3);
  w.stop();
});
