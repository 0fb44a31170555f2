/**
 * `celeriac status` and `celeriac inspect <command> [--json]` print what Python Celery's own CLI
 * (`celery -A pyapp --no-color ...`, Debian's 5.2.6) prints for the same command against the same
 * celeriac worker on a real Redis: byte for byte, exit codes included (69 when no node replies).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, run, sandbox, startWorker, type WorkerProcess } from '../e2e/cli-helpers.js';
import { PY_DIR, PYTHON, interopSkip } from '../support/python.js';
import { startRedis, type RedisServer } from '../support/servers.js';

const APP = resolve(ROOT, 'test/fixtures/apps/remote.ts');
const NO_REPLY = 'Error: No nodes replied within time constraint\n';

// Outside CI a machine without Debian's Celery or redis-server skips this file; CI has both.
const skipPython = interopSkip();

void describe(
  "celeriac's CLI prints what Python Celery's prints (Redis, celeriac worker)",
  { skip: skipPython },
  () => {
    const box = sandbox();
    const node = `cli-remote-${process.pid}@redis`;
    let redis: RedisServer;
    let env: NodeJS.ProcessEnv;
    let worker: WorkerProcess;

    /** `python3 -m celery -A pyapp --no-color <args>`: exit code, stdout and stderr apart. */
    const celery = (
      args: string[],
    ): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      new Promise((resolvePromise, reject) => {
        // --no-color: with pygments installed (an optional dependency) and colours on, Celery
        // runs dict replies through pygments, whose trailing newline becomes a line of four
        // spaces once indented; in a pipe the colours are stripped but that line stays.
        const child = spawn(PYTHON, ['-m', 'celery', '-A', 'pyapp', '--no-color', ...args], {
          cwd: PY_DIR,
          env: {
            ...process.env,
            CELERY_BROKER_URL: redis.url,
            PYTHONDONTWRITEBYTECODE: '1',
            C_FORCE_ROOT: '1',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`celery ${args.join(' ')} timed out: ${stdout} ${stderr}`));
        }, 60_000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolvePromise({ code, stdout, stderr });
        });
      });
    /** Both CLIs with the same arguments. */
    const both = async (args: string[]) => {
      const [py, ts] = await Promise.all([celery(args), run(args, { env })]);
      return { py, ts };
    };

    before(async () => {
      redis = await startRedis({ db: 14, flush: true });
      env = { ...box.env, CELERY_BROKER_URL: redis.url, CELERY_RESULT_BACKEND: redis.url };
      worker = await startWorker(env, ['-c', '1', '-n', node], APP);
    });
    after(async () => {
      await worker?.stop('SIGKILL');
      await redis?.stop();
      box.cleanup();
    });

    for (const args of [
      ['status'],
      ['status', '--json'],
      ['inspect', 'ping'],
      ['inspect', 'ping', '--json'],
      ['inspect', 'registered'],
      ['inspect', 'registered', '--json'],
      ['inspect', 'registered', 'acks_late', 'rate_limit'],
      ['inspect', 'active'],
      ['inspect', 'active_queues'],
      ['inspect', 'query_task', 'no-such-id'],
      ['inspect', 'revoked', '--json'],
      ['inspect', 'conf'],
      ['inspect', 'conf', '--json'],
      ['inspect', 'memsample'],
    ]) {
      test(`${args.join(' ')}: the same output and exit code`, async () => {
        const { py, ts } = await both([...args, '-d', node, '-t', '3']);
        assert.equal(py.code, 0, py.stderr);
        assert.equal(ts.code, 0, ts.stderr);
        assert.ok(py.stdout.includes(node), `Python saw the worker:\n${py.stdout}`);
        assert.equal(ts.stdout, py.stdout);
      });
    }

    test('celery inspect stats lists the celeriac worker with its pool, broker and totals', async () => {
      // Not compared byte for byte: uptime and rusage move between the two calls.
      const py = await celery(['inspect', 'stats', '--json', '-d', node, '-t', '3']);
      assert.equal(py.code, 0, py.stderr);
      const replies = JSON.parse(py.stdout) as Record<string, Record<string, unknown>>;
      const stats = replies[node]!;
      assert.ok(stats, `Python saw the worker:\n${py.stdout}`);
      for (const key of [
        'broker',
        'clock',
        'pid',
        'pool',
        'prefetch_count',
        'rusage',
        'total',
        'uptime',
      ])
        assert.ok(key in stats, key);
      assert.equal((stats['pool'] as Record<string, unknown>)['max-concurrency'], 1);
      assert.equal((stats['broker'] as Record<string, unknown>)['transport'], 'redis');
    });

    test('no node replies: both exit 69 with the same error', async () => {
      for (const args of [['status'], ['inspect', 'ping', '--json']]) {
        const { py, ts } = await both([...args, '-d', 'nobody@nowhere', '-t', '0.5']);
        assert.equal(py.code, 69, py.stderr);
        assert.equal(ts.code, 69, ts.stderr);
        assert.equal(py.stdout, '');
        assert.equal(ts.stdout, '');
        assert.equal(py.stderr, NO_REPLY);
        assert.equal(ts.stderr, NO_REPLY);
      }
    });
  },
);
