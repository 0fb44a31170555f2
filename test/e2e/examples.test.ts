/** The examples run as the README says (CI runs them): the demo on the embedded default. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ROOT, sandbox } from './cli-helpers.js';

describe('examples', () => {
  const box = sandbox();
  after(() => box.cleanup());

  test('examples/demo.ts: a worker process computes add, mul and xsum on the embedded default', () => {
    const env = { ...box.env };
    delete env.CELERY_BROKER_URL;
    delete env.CELERY_RESULT_BACKEND;
    const run = spawnSync(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), join(ROOT, 'examples/demo.ts')],
      {
        cwd: box.dir,
        env,
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /broker sqlite:\/\/\/\.celeriac\/celeriac\.db/);
    assert.match(run.stdout, /\[worker\] .*\.> transport:\s+sqlite:/);
    assert.match(
      run.stdout,
      /add\(4, 4\)\s+= 8\s+state=SUCCESS \(computed by the worker process \d+\)/,
    );
    assert.match(run.stdout, /mul\(6, 7\)\s+= 42/);
    assert.match(run.stdout, /xsum\(\[1\.\.10\]\)\s+= 55/);
    assert.match(run.stdout, /worker stopped \(exit code 0\)/);
    // Not eager: each id the demo sent was received and run by the worker process, whose log
    // lines the demo relays.
    const sent = [...run.stdout.matchAll(/^sent (\w+)\(.*?id=([0-9a-f-]{36}) state=/gm)];
    assert.deepEqual(
      sent.map((m) => m[1]),
      ['add', 'mul', 'xsum'],
    );
    const values: Record<string, string> = { add: '8', mul: '42', xsum: '55' };
    for (const [, name, id] of sent) {
      assert.match(
        run.stdout,
        new RegExp(`\\[worker\\] .*Task tasks\\.${name}\\[${id}\\] received`),
      );
      assert.match(
        run.stdout,
        new RegExp(
          `\\[worker\\] .*Task tasks\\.${name}\\[${id}\\] succeeded in [0-9.]+s: ${values[name!]}`,
        ),
      );
    }
  });
});
