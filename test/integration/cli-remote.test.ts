/**
 * `celeriac status` and `celeriac inspect <command> [--json]` run as a user runs them, against a
 * real worker process: on SQLite the output is checked against Celery's format (`->  node: OK`,
 * the reply indented, `N node(s) online.`, --json as one JSON document, exit code 69 when no
 * node replies). test/interop/cli-remote-python.test.ts compares the same commands with Python
 * Celery's own CLI on Redis.
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Celery } from '../../src/index.js';
import { ROOT, run, sandbox, startWorker, type WorkerProcess } from '../e2e/cli-helpers.js';
import { loadFixture, type Json } from '../support/fixtures.js';

const APP = resolve(ROOT, 'test/fixtures/apps/remote.ts');
const TASKS = ['remote.add', 'remote.block', 'remote.now', 'remote.wait'];
/** What Celery prints (stderr) when no node replied. */
const NO_REPLY = 'Error: No nodes replied within time constraint\n';

/** The reply of Python's worker in a pidbox fixture. */
function pythonReply(name: string): unknown {
  const replies = loadFixture(name)['replies'] as Json[];
  return (replies[0]!['body_decoded'] as Json)['celery@specworker'];
}

/** Polls until `check` passes, failing after `ms`. */
async function eventually(check: () => Promise<boolean>, what: string, ms = 15_000) {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

void describe('celeriac status / inspect through the CLI (SQLite worker)', () => {
  const box = sandbox();
  const node = 'cli-remote@test';
  const url = `sqlite:///${box.dir}/broker.db`;
  const env = { ...box.env, CELERY_BROKER_URL: url, CELERY_RESULT_BACKEND: url };
  let worker: WorkerProcess;
  let client: Celery;
  /** `celeriac <args>` (no -A: the bare app on CELERY_BROKER_URL). */
  const celeriac = (...args: string[]) => run(args, { env });

  before(async () => {
    client = new Celery('client', { broker: url, backend: url });
    worker = await startWorker(env, ['-c', '1', '-n', node], APP);
  });
  after(async () => {
    await worker?.stop('SIGKILL');
    await client?.close();
    box.cleanup();
  });

  test('status: `->  node: OK`, a blank line, `1 node online.`; --json: the replies, then the count', async () => {
    const out = await celeriac('status', '-t', '3');
    assert.deepEqual(out, { code: 0, stdout: `->  ${node}: OK\n\n1 node online.\n`, stderr: '' });
    const json = await celeriac('status', '--json', '-d', node, '-t', '3');
    assert.deepEqual(json, {
      code: 0,
      stdout: `{"${node}": {"ok": "pong"}}\n\n1 node online.\n`,
      stderr: '',
    });
  });

  test('inspect ping / registered: each reply indented under its node; --json prints only the JSON', async () => {
    const ping = await celeriac('inspect', 'ping', '-t', '3');
    assert.deepEqual(ping, {
      code: 0,
      stdout: `->  ${node}: OK\n        pong\n\n1 node online.\n`,
      stderr: '',
    });
    const registered = await celeriac('inspect', 'registered', '-d', node, '-t', '3');
    assert.equal(registered.code, 0, registered.stderr);
    assert.equal(
      registered.stdout,
      `->  ${node}: OK\n${TASKS.map((t) => `    * ${t}\n`).join('')}\n1 node online.\n`,
    );
    const json = await celeriac('inspect', 'registered', '--json', '-t', '3');
    assert.deepEqual(json, {
      code: 0,
      stdout: `{"${node}": [${TASKS.map((t) => `"${t}"`).join(', ')}]}\n`,
      stderr: '',
    });
    assert.deepEqual(JSON.parse(json.stdout), { [node]: TASKS });
    // Arguments after the command: registered's task attributes.
    const attrs = await celeriac('inspect', 'registered', 'acks_late', '--json', '-t', '3');
    assert.deepEqual(JSON.parse(attrs.stdout), {
      [node]: TASKS.map((t) => `${t} [acks_late=True]`),
    });
  });

  test('inspect stats: a JSON object with the keys of a Python worker; as text, json.dumps(sort_keys, indent=4) indented', async () => {
    const json = await celeriac('inspect', 'stats', '--json', '-t', '3');
    assert.equal(json.code, 0, json.stderr);
    const byNode = JSON.parse(json.stdout) as Record<string, Json>;
    assert.deepEqual(Object.keys(byNode), [node]);
    const stats = byNode[node]!;
    assert.deepEqual(
      Object.keys(stats).sort(),
      Object.keys(pythonReply('pidbox_inspect_stats') as Json).sort(),
    );
    assert.equal(stats['pid'], worker.child.pid);
    assert.equal((stats['pool'] as Json)['max-concurrency'], 1);
    assert.equal((stats['broker'] as Json)['transport'], 'sqlite');
    const text = await celeriac('inspect', 'stats', '-t', '3');
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.split('\n');
    assert.equal(lines[0], `->  ${node}: OK`);
    assert.equal(lines[1], '    {');
    // Top-level keys sorted, four spaces per level, under the four of the reply.
    const top = lines.filter((l) => /^ {8}"[^"]+": /.test(l)).map((l) => l.trim().split('"')[1]);
    assert.deepEqual(top, Object.keys(stats).sort());
    assert.ok(lines.includes(`        "pid": ${worker.child.pid},`), 'the pid line');
    assert.ok(lines.includes('            "max-concurrency": 1,'), 'a nested line');
    assert.deepEqual(lines.slice(-4), ['    }', '', '1 node online.', '']);
  });

  test('inspect active / query_task --json while a task runs: Python-shaped task info', async () => {
    const r = await client.sendTask('remote.wait', [30]);
    let active: Json[] = [];
    await eventually(async () => {
      const out = await celeriac('inspect', 'active', '--json', '-t', '2');
      active = ((JSON.parse(out.stdout) as Record<string, Json[]>)[node] ?? []).filter(
        (t) => t['id'] === r.id,
      );
      return active.length === 1;
    }, 'the task in inspect active');
    const info = active[0]!;
    const python = (pythonReply('pidbox_inspect_active') as Json[])[0]!;
    assert.deepEqual(Object.keys(info), Object.keys(python), 'the fields in Python order');
    assert.equal(info['name'], 'remote.wait');
    assert.deepEqual(info['args'], [30]);
    assert.equal(info['hostname'], node);
    assert.equal(typeof info['time_start'], 'number');
    const text = await celeriac('inspect', 'active', '-t', '2');
    // As text: the reply list's items as Python reprs.
    assert.match(
      text.stdout,
      new RegExp(
        `^->  ${node}: OK\\n    \\* \\{'id': '${r.id}', 'name': 'remote\\.wait', 'args': \\[30\\], 'kwargs': \\{\\}, 'type': 'remote\\.wait', 'hostname': '${node}', 'time_start': [\\d.]+, 'acknowledged': (True|False), 'delivery_info': \\{.*\\}, 'worker_pid': \\d+\\}\\n\\n1 node online\\.\\n$`,
      ),
    );
    const query = await celeriac('inspect', 'query_task', r.id, 'no-such-id', '--json', '-t', '2');
    assert.equal(query.code, 0, query.stderr);
    const q = (JSON.parse(query.stdout) as Record<string, Json>)[node]!;
    assert.deepEqual(Object.keys(q), [r.id]);
    assert.equal((q[r.id] as unknown[])[0], 'active');
    assert.equal(((q[r.id] as unknown[])[1] as Json)['id'], r.id);
    await client.control.revoke(r.id, { terminate: true, reply: true, destination: [node] });
    await assert.rejects(r.get({ timeout: 20 }), /terminated/);
    const empty = await celeriac('inspect', 'active', '-t', '2');
    assert.equal(empty.stdout, `->  ${node}: OK\n    - empty -\n\n1 node online.\n`);
  });

  test("no node replies: exit code 69 and Celery's error, for status and inspect, with and without --json", async () => {
    for (const args of [
      ['status'],
      ['status', '--json'],
      ['inspect', 'ping'],
      ['inspect', 'stats', '--json'],
    ]) {
      const started = Date.now();
      const out = await celeriac(...args, '-d', 'nobody@nowhere', '-t', '0.5');
      assert.deepEqual(out, { code: 69, stdout: '', stderr: NO_REPLY }, args.join(' '));
      assert.ok(Date.now() - started >= 500, `${args.join(' ')} waited its timeout`);
    }
  });

  test('inspect: an unknown command is a usage error (exit code 2) naming the valid ones', async () => {
    const out = await celeriac('inspect', 'pong');
    assert.equal(out.code, 2);
    assert.match(
      out.stderr,
      /^Error: Invalid value for 'ACTION': 'pong' is not one of 'report', 'conf', .*'ping', .*'active_queues'\.\n$/,
    );
    assert.equal(out.stdout, '');
  });
});
