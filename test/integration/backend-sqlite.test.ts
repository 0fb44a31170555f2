import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { backendContract, contractMeta } from '../../src/backend/backend.contract.js';
import { createSqliteBackend } from '../../src/backend/sqlite.js';
import { ConnectionError } from '../../src/errors.js';
import { createSqliteTransport } from '../../src/transport/sqlite/index.js';
import type { Clock } from '../../src/util/clock.js';

backendContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-results-'));
  const url = `sqlite:///${join(dir, 'results.db')}`;
  let offset = 0;
  const clock: Clock = {
    now: () => Date.now() + offset,
    monotonic: () => performance.now() + offset,
  };
  return {
    backend: createSqliteBackend(url, { clock }),
    peer: async () => createSqliteBackend(url, { clock }),
    advanceTime: (ms: number) => {
      offset += ms;
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

function tempDir(): { dir: string; file: string; url: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-results-'));
  const file = join(dir, 'celeriac.db');
  return {
    dir,
    file,
    url: `sqlite:///${file}`,
    [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }),
  };
}

void describe('sqlite result backend', () => {
  void test("metas are stored as the bytes of Celery's JSON", async () => {
    using tmp = tempDir();
    await using b = createSqliteBackend(tmp.url);
    await b.store(contractMeta('c0000000-0000-4000-8000-000000000001', 'SUCCESS', 5));
    const db = new Database(tmp.file, { readonly: true });
    const raw = db.prepare('SELECT meta FROM celeriac_results').pluck().get() as Buffer;
    db.close();
    assert.equal(
      raw.toString('utf8'),
      '{"status": "SUCCESS", "result": 5, "traceback": null, "children": [], "date_done": "2026-11-25T05:43:22.702875", "task_id": "c0000000-0000-4000-8000-000000000001"}',
    );
  });

  void test('shares one file with the broker, each on its own connection and schema version', async () => {
    using tmp = tempDir();
    await using t = createSqliteTransport(tmp.url);
    await using b = createSqliteBackend(tmp.url);
    await t.connect();
    await b.connect();
    await b.store(contractMeta('x', 'SUCCESS', 1));
    assert.equal(await t.size('celery'), 0);
    const db = new Database(tmp.file, { readonly: true });
    assert.deepEqual(
      db.prepare('SELECT component, version FROM celeriac_schema ORDER BY component').all(),
      [
        { component: 'broker', version: 1 },
        { component: 'results', version: 1 },
      ],
    );
    db.close();
  });

  void test('expired rows are deleted by the periodic cleanup', async () => {
    using tmp = tempDir();
    let offset = 0;
    const clock: Clock = { now: () => Date.now() + offset, monotonic: () => performance.now() };
    await using b = createSqliteBackend(tmp.url, { clock });
    await b.store(contractMeta('old', 'SUCCESS', 1), { expires: 10 });
    await b.saveGroup('g', [['g', null], []], { expires: 10 });
    offset += 120_000;
    await b.store(contractMeta('new', 'SUCCESS', 2), { expires: 10 });
    const db = new Database(tmp.file, { readonly: true });
    assert.deepEqual(db.prepare('SELECT task_id FROM celeriac_results').pluck().all(), ['new']);
    assert.equal(db.prepare('SELECT COUNT(*) FROM celeriac_groups').pluck().get(), 0);
    db.close();
  });

  void test('an unwritable path is a STORE_UNWRITABLE ConnectionError naming it', async () => {
    using tmp = tempDir();
    writeFileSync(join(tmp.dir, 'file'), 'x');
    const bad = join(tmp.dir, 'file', 'r.db');
    const b = createSqliteBackend(`sqlite:///${bad}`);
    await assert.rejects(
      b.connect(),
      (e: unknown) =>
        e instanceof ConnectionError && e.code === 'STORE_UNWRITABLE' && e.message.includes(bad),
    );
    await b.close();
  });
});
