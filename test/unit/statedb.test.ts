import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RevokedSet } from '../../src/worker/state.js';
import { StateDb } from '../../src/worker/statedb.js';

describe('--statedb', () => {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-statedb-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('revoked ids survive a restart', () => {
    const path = join(dir, 'state.json');
    const before = new RevokedSet();
    const db = new StateDb(path, before);
    assert.equal(db.load(), 0, 'a missing file is a first start');
    before.add('a');
    before.add('b');
    db.close();
    const afterRestart = new RevokedSet();
    assert.equal(new StateDb(path, afterRestart).load(), 2);
    assert.ok(afterRestart.has('a') && afterRestart.has('b') && !afterRestart.has('c'));
  });

  test('a file that is not a celeriac state file gets a clear error', () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, 'not json');
    assert.throws(() => new StateDb(path, new RevokedSet()).load(), /is not a celeriac state file/);
  });
});
