/**
 * The prefork pool with real child processes and real signals: the shared child-pool suite,
 * plus what only processes do (SIGKILL from outside, recycling by task count and memory,
 * resize, close, children dying with their parent, an app that cannot load).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { createPool } from '../../src/worker/pool/create.js';
import type { Pool, PoolOutcome } from '../../src/worker/pool/types.js';
import { childPoolBehaviour, memoryLogger } from '../fixtures/pool-app/behaviour.js';
import { alive, APP_SPEC, job, until } from '../fixtures/pool-app/jobs.js';

childPoolBehaviour('prefork');

function prefork(
  options: { concurrency?: number; maxTasksPerChild?: number; maxMemoryPerChild?: number } = {},
  lines: string[] = [],
): Pool {
  return createPool('prefork', {
    concurrency: options.concurrency ?? 1,
    appSpec: APP_SPEC,
    logger: memoryLogger(lines),
    maxTasksPerChild: options.maxTasksPerChild,
    maxMemoryPerChild: options.maxMemoryPerChild,
  });
}

function valueOf(outcome: PoolOutcome): unknown {
  assert.equal(outcome.kind, 'success', JSON.stringify(outcome));
  return outcome.kind === 'success' ? outcome.value : undefined;
}

void describe('prefork pool: processes', () => {
  void test('a child killed with SIGKILL mid-task: worker-lost naming the signal, and the next job runs', async () => {
    const lines: string[] = [];
    const pool = prefork({}, lines);
    await pool.start();
    try {
      const victim = job('pool.spin', [5000]);
      const outcome = pool.run(victim);
      const pid = await victim.startedIn;
      assert.deepEqual(pool.pids, [pid]);
      process.kill(pid, 'SIGKILL');
      const lost = await outcome;
      assert.ok(lost.kind === 'failure' && lost.cause === 'worker-lost', JSON.stringify(lost));
      assert.deepEqual(lost.error.excMessage, ['Worker exited prematurely: signal 9 (SIGKILL).']);
      const next = job('pool.pid', []);
      const newPid = valueOf(await pool.run(next));
      assert.notEqual(newPid, pid);
      assert.deepEqual(pool.pids, [newPid]);
      assert.ok(
        lines.some((l) =>
          l.includes(`child ${pid} running pool.spin[${victim.request.id}] exited prematurely`),
        ),
      );
    } finally {
      await pool.close(1000);
    }
  });

  void test('maxTasksPerChild replaces a child after that many tasks', async () => {
    const pool = prefork({ maxTasksPerChild: 2 });
    await pool.start();
    try {
      const pids: unknown[] = [];
      for (let i = 0; i < 5; i++) pids.push(valueOf(await pool.run(job('pool.pid', []))));
      assert.equal(pids[0], pids[1]);
      assert.equal(pids[2], pids[3]);
      assert.equal(new Set(pids).size, 3, `pids: ${pids.join(', ')}`);
      for (const pid of [pids[0], pids[2]])
        await until(() => !alive(pid as number), 5000, `retired child ${String(pid)} to exit`);
    } finally {
      await pool.close(1000);
    }
  });

  void test('maxMemoryPerChild replaces a child that ends a task above the limit', async () => {
    // Every child is above 1 KiB: each task is followed by a fresh child.
    const pool = prefork({ maxMemoryPerChild: 1 });
    await pool.start();
    try {
      const first = valueOf(await pool.run(job('pool.pid', [])));
      const second = valueOf(await pool.run(job('pool.pid', [])));
      assert.notEqual(first, second);
    } finally {
      await pool.close(1000);
    }
    const roomy = prefork({ maxMemoryPerChild: 4 * 1024 * 1024 });
    await roomy.start();
    try {
      assert.equal(
        valueOf(await roomy.run(job('pool.pid', []))),
        valueOf(await roomy.run(job('pool.pid', []))),
      );
    } finally {
      await roomy.close(1000);
    }
  });

  void test('resize grows at once and shrinks when children are idle', async () => {
    const pool = prefork({ concurrency: 1 });
    await pool.start();
    try {
      pool.resize(3);
      assert.equal(pool.concurrency, 3);
      await until(() => pool.pids.length === 3, 10_000, 'three children');
      const outcomes = await Promise.all([1, 2, 3].map(() => pool.run(job('pool.spin', [300]))));
      assert.deepEqual(outcomes.map(valueOf), ['spun', 'spun', 'spun']);
      const before = [...pool.pids];
      const busy = pool.run(job('pool.sleepy', [500]));
      pool.resize(1);
      await until(() => pool.pids.length === 1, 5000, 'one child left');
      assert.equal(valueOf(await busy), 'slept', 'a busy child finishes its task before it leaves');
      for (const pid of before)
        if (!pool.pids.includes(pid)) await until(() => !alive(pid), 5000, `child ${pid} to exit`);
    } finally {
      await pool.close(1000);
    }
  });

  void test('close waits for running tasks, then kills what is left; no child survives', async () => {
    const pool = prefork({ concurrency: 2 });
    await pool.start();
    const pids = [...pool.pids];
    const quick = pool.run(job('pool.sleepy', [200]));
    const stuck = pool.run(job('pool.stubborn', [30_000]));
    await pool.close(600);
    assert.equal(valueOf(await quick), 'slept');
    const lost = await stuck;
    assert.ok(lost.kind === 'failure' && lost.cause === 'worker-lost', JSON.stringify(lost));
    assert.deepEqual(pool.pids, []);
    for (const pid of pids) assert.ok(!alive(pid), `child ${pid} is still alive`);
    await assert.rejects(pool.run(job('pool.add', [1, 1])), { code: 'CLOSED' });
  });

  void test('children exit when their parent dies (even one that is running a task)', async () => {
    const parent = spawn(
      process.execPath,
      ['--import', 'tsx', new URL('../fixtures/pool-app/parent.ts', import.meta.url).pathname],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: parent.stdout }).once('line', resolve);
        parent.once('exit', (code) => reject(new Error(`the parent exited early (${code})`)));
      });
      const pids = JSON.parse(line) as number[];
      assert.equal(pids.length, 2);
      for (const pid of pids) assert.ok(alive(pid));
      parent.kill('SIGKILL');
      for (const pid of pids)
        await until(() => !alive(pid), 10_000, `orphaned child ${pid} to exit`);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
