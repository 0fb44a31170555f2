/**
 * The tutorial as a user runs it: a worker process in one "terminal", call and result in
 * another, on the embedded SQLite default. Real processes, real signals.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BIN, run, sandbox, startWorker, TASKS } from './cli-helpers.js';

describe('celeriac CLI on the embedded default', () => {
  const box = sandbox();
  after(() => box.cleanup());

  test('tasks sent while no worker runs are executed when one starts; result prints 8', async () => {
    const call = await run(['-A', TASKS, 'call', 'tasks.add', '--args', '[4,4]'], { env: box.env });
    assert.equal(call.code, 0, call.stderr);
    const id = call.stdout.trim();
    assert.match(id, /^[0-9a-f-]{36}$/);
    const pending = await run(['-A', TASKS, 'result', id], { env: box.env });
    assert.equal(pending.code, 1);
    assert.match(pending.stderr, /PENDING/);

    const worker = await startWorker(box.env, ['-c', '2']);
    try {
      const out = worker.output();
      assert.match(out, /\.> transport:\s+sqlite:\/\/\//);
      assert.match(out, /\[tasks\]\n(?:.*\n)*\s+\. tasks\.add\n/);
      assert.match(out, /celery@\S+ ready\./);
      const result = await run(['-A', TASKS, 'result', id, '--timeout', '15'], { env: box.env });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.trim(), '8');
      await worker.waitFor(new RegExp(`Task tasks\\.add\\[${id}\\] received`));
      await worker.waitFor(new RegExp(`Task tasks\\.add\\[${id}\\] succeeded in [0-9.]+s: 8`));

      const failed = await run(['-A', TASKS, 'call', 'tasks.fail', '--args', '["boom"]'], {
        env: box.env,
      });
      const failedId = failed.stdout.trim();
      const shown = await run(['-A', TASKS, 'result', failedId, '--timeout', '15'], {
        env: box.env,
      });
      assert.equal(shown.code, 1);
      assert.equal(shown.stdout.trim(), 'Exception: boom');
      const traced = await run(['-A', TASKS, 'result', failedId, '--traceback'], { env: box.env });
      assert.match(traced.stdout, /^Error: boom\n\s+at /);
    } finally {
      assert.equal(await worker.stop('SIGTERM'), 0, 'a warm shutdown exits 0');
    }
    assert.match(worker.output(), /worker: Warm shutdown \(MainProcess\)/);
  });

  test('a worker killed with SIGKILL mid-task leaves the task to the next worker', async () => {
    const first = await startWorker(box.env, ['-c', '1']);
    const call = await run(['-A', TASKS, 'call', 'tasks.sleep', '--args', '[1.5]'], {
      env: box.env,
    });
    const id = call.stdout.trim();
    await first.waitFor(new RegExp(`Task tasks\\.sleep\\[${id}\\] received`));
    first.child.kill('SIGKILL');
    await first.exited;
    const second = await startWorker(box.env, ['-c', '1']);
    try {
      const result = await run(['-A', TASKS, 'result', id, '--timeout', '60'], {
        env: box.env,
        timeoutMs: 70_000,
      });
      assert.equal(result.stdout.trim(), '1.5', result.stderr);
      await second.waitFor(new RegExp(`Task tasks\\.sleep\\[${id}\\] succeeded`));
    } finally {
      await second.stop();
    }
  });

  test('purge -f removes waiting messages and says how many', async () => {
    for (let i = 0; i < 3; i++)
      await run(['-A', TASKS, 'call', 'tasks.add', '--args', '[1,1]'], { env: box.env });
    const purge = await run(['-A', TASKS, 'purge', '-f'], { env: box.env });
    assert.equal(purge.code, 0, purge.stderr);
    assert.match(purge.stdout, /Purged 3 messages from 1 known task queue\./);
    const again = await run(['-A', TASKS, 'purge', '-f'], { env: box.env });
    assert.match(again.stdout, /No messages purged from 1 queue\./);
  });
});

describe('celeriac CLI: bad input gets a clear one-line reason', () => {
  const box = sandbox();
  after(() => box.cleanup());
  before(() => undefined);

  test('--args that is not JSON', async () => {
    const r = await run(['-A', TASKS, 'call', 'tasks.add', '--args', '[4,'], { env: box.env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--args is not valid JSON/);
  });

  test('an app module that does not exist', async () => {
    const r = await run(['-A', 'nope/missing.ts', 'call', 'tasks.add'], { env: box.env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Cannot find the app module 'nope\/missing\.ts'/);
  });

  test('no -A at all', async () => {
    const r = await run(['call', 'tasks.add'], { env: box.env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /No app given: pass -A <module>/);
  });

  test('a broker URL that is not a URL', async () => {
    const r = await run(
      ['-A', TASKS, '-b', 'localhost:6379', 'call', 'tasks.add', '--args', '[1,2]'],
      { env: box.env },
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /brokerUrl 'localhost:6379' is not a URL celeriac can use/);
  });

  test('a database path that cannot be created', async () => {
    // A folder that cannot exist: its parent is a regular file (root ignores permissions).
    const blocker = join(box.dir, 'a-file');
    writeFileSync(blocker, 'not a folder');
    const url = `sqlite:///${join(blocker, 'sub', 'x.db')}`;
    const r = await run(['-A', TASKS, '-b', url, 'call', 'tasks.add', '--args', '[1,2]'], {
      env: box.env,
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot create the folder for .*a-file\/sub\/x\.db/);
    assert.match(r.stderr, /make .* writable|writable file/);
  });

  test('a bad log level for the worker', async () => {
    const r = await run(['-A', TASKS, 'worker', '-l', 'loud'], { env: box.env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid log level 'loud'/);
  });

  test('--help on each command', async () => {
    for (const cmd of ['worker', 'call', 'result', 'purge']) {
      const r = await run([cmd, '--help'], { env: box.env });
      assert.equal(r.code, 0);
      assert.match(r.stdout, new RegExp(`Usage: celeriac ${cmd}`));
    }
  });
});

describe('celeriac CLI in a pipe', () => {
  const box = sandbox();
  after(() => box.cleanup());

  test('a reader that goes away (| head -1) ends the command quietly with exit 0', async () => {
    const worker = await startWorker(box.env, ['-c', '1', '-E']);
    try {
      // events --dump prints the worker's heartbeats (every 2 s) until stopped.
      const child = spawn(process.execPath, [BIN, '-A', TASKS, 'events', '--dump'], {
        env: box.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      // Read the first line, then close the pipe, as `head -1` does.
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      child.stdout.destroy();
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      assert.equal(code, 0, `exit ${code}: ${stderr}`);
      assert.doesNotMatch(stderr, /EPIPE|Unhandled|at /);
    } finally {
      await worker.stop('SIGTERM');
    }
  });
});
