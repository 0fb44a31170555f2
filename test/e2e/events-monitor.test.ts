/**
 * `celeriac events` in a real terminal: the monitor runs under `script` (a pseudo-terminal),
 * keys are typed into it and its screen is read back. A worker with task events runs one task
 * at a time, so the screen shows tasks going from RECEIVED to SUCCESS, and a queued task
 * revoked with the `r` key ends REVOKED.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Celery } from '../../src/index.js';
import { BIN, ROOT, sandbox, startWorker, type WorkerProcess } from './cli-helpers.js';

const APP = resolve(ROOT, 'test/fixtures/apps/remote.ts');
const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

/** The screen as last drawn: the text after the last cursor-home, without colors. */
function screen(raw: string): string {
  const frame = raw.slice(raw.lastIndexOf('\x1b[H') + 3);
  return frame.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
}

void describe(
  'celeriac events: the terminal monitor',
  { skip: hasScript ? false : 'script(1) is not installed' },
  () => {
    const box = sandbox();
    const url = `sqlite:///${box.dir}/broker.db`;
    const env = { ...box.env, CELERY_BROKER_URL: url, CELERY_RESULT_BACKEND: url };
    let worker: WorkerProcess;
    let monitor: ChildProcessWithoutNullStreams;
    let raw = '';
    const client = new Celery('client', { broker: url, backend: url });

    /** Waits until the screen matches `pattern`. */
    const until = async (pattern: RegExp, what: string, ms = 20_000): Promise<string> => {
      const end = Date.now() + ms;
      for (;;) {
        const s = screen(raw);
        if (pattern.test(s)) return s;
        if (Date.now() > end) assert.fail(`the monitor never showed ${what}; screen:\n${s}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const row = (id: string, state: string): RegExp =>
      new RegExp(`${id} +remote\\.\\w+ +mon@test +\\d\\d:\\d\\d:\\d\\d ${state}`);

    before(async () => {
      worker = await startWorker(
        env,
        ['-E', '-c', '1', '--prefetch-multiplier', '3', '-n', 'mon@test'],
        APP,
      );
      const command = `stty cols 130 rows 40; exec '${process.execPath}' '${BIN}' -A '${APP}' events`;
      monitor = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
        cwd: ROOT,
        env: { ...env, TERM: 'xterm' },
      });
      monitor.stdout.on('data', (d: Buffer) => (raw += d.toString('utf8')));
      monitor.stderr.on('data', (d: Buffer) => (raw += d.toString('utf8')));
    });
    after(async () => {
      if (monitor.exitCode === null) monitor.kill('SIGKILL');
      await worker?.stop('SIGKILL');
      await client.close();
      box.cleanup();
    });

    test('shows the worker online, tasks from RECEIVED to SUCCESS, and revokes a queued task with r', async () => {
      await until(/workers online: 1/, 'the worker online');
      await until(/Workers: mon@test \(online/, 'the workers line');
      const busy = await client.sendTask('remote.wait', [4]);
      await until(row(busy.id, 'STARTED'), 'the busy task STARTED');
      const queued = await client.sendTask('remote.add', [2, 3]);
      await until(row(queued.id, 'RECEIVED'), 'the next task RECEIVED while the slot is busy');
      const victim = await client.sendTask('remote.add', [5, 5]);
      await until(row(victim.id, 'RECEIVED'), 'a third task RECEIVED');
      // The newest task is the top row: move up to it, see its details, revoke it.
      for (let i = 0; i < 5; i++) monitor.stdin.write('k');
      await until(
        new RegExp(`remote\\.add ${victim.id} {2}RECEIVED {2}worker: mon@test`),
        'the selected task details',
      );
      monitor.stdin.write('r');
      await until(
        new RegExp(`mon@test: tasks ${victim.id} flagged as revoked`),
        'the revoke reply',
      );
      await until(row(queued.id, 'SUCCESS'), 'the queued task SUCCESS');
      await until(row(victim.id, 'REVOKED'), 'the revoked task REVOKED');
      assert.equal(await queued.get({ timeout: 10 }), 5);
      await assert.rejects(victim.get({ timeout: 10 }), /revoked/);
      const s = screen(raw);
      assert.match(s, row(busy.id, 'SUCCESS'));
      assert.match(s, /celeriac events +sqlite:\/\/\/.* +workers online: 1 +tasks: 3/);
    });

    test('l sets a rate limit through a prompt; q quits and gives the terminal back', async () => {
      monitor.stdin.write('l');
      await until(/Rate limit for remote\.add \(e\.g\. 10\/m; empty = none\): █/, 'the prompt');
      monitor.stdin.write('20/m\r');
      await until(/mon@test: new rate limit set successfully/, 'the rate limit reply');
      const exited = new Promise<number | null>((r) => monitor.once('exit', (code) => r(code)));
      monitor.stdin.write('q');
      assert.equal(await exited, 0);
      assert.ok(
        raw.includes('\x1b[?1049l') && raw.includes('\x1b[?25h'),
        'alternate screen left, cursor shown',
      );
    });
  },
);
