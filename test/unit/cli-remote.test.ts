/**
 * The pure parts of `celeriac inspect` / `control` / `events`: Celery's argument compilation,
 * reply printing as `celery inspect` prints, and the monitor's screen.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COMMANDS, compileArguments, findCommand } from '../../src/control/commands.js';
import { ClusterState } from '../../src/events/state.js';
import { decodeEvent } from '../../src/protocol/event.js';
import { fit, renderMonitor } from '../../src/cli/monitor/view.js';
import { colorsWanted } from '../../src/cli/colors.js';
import {
  destinationList,
  indent,
  nodesOnline,
  prettyReply,
  pyJsonIndent,
  sayReply,
} from '../../src/cli/remote-output.js';

/** Drops color codes (picocolors colors only on terminals; tests may run on one). */
const plain = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

void describe("Celery's command table and argument compilation", () => {
  const cmd = (name: string, type: 'inspect' | 'control' = 'control') => findCommand(name, type)!;

  void test('the commands of celery inspect / celery control', () => {
    const inspect = COMMANDS.filter((c) => c.type === 'inspect').map((c) => c.name);
    for (const n of [
      'ping',
      'stats',
      'active',
      'scheduled',
      'reserved',
      'revoked',
      'registered',
      'conf',
      'report',
      'query_task',
      'clock',
      'active_queues',
    ]) {
      assert.ok(inspect.includes(n), n);
    }
    assert.equal(findCommand('revoke', 'inspect'), undefined);
    assert.ok(findCommand('revoke', 'control'));
  });

  void test('positionals become keyword arguments, converted', () => {
    assert.deepEqual(compileArguments(cmd('rate_limit'), ['tasks.add', '10/m']), {
      task_name: 'tasks.add',
      rate_limit: '10/m',
    });
    assert.deepEqual(compileArguments(cmd('time_limit'), ['tasks.add', '10', '20']), {
      task_name: 'tasks.add',
      soft: 10,
      hard: 20,
    });
    assert.deepEqual(compileArguments(cmd('pool_grow'), ['2']), { n: 2 });
    assert.deepEqual(compileArguments(cmd('add_consumer'), ['extra']), { queue: 'extra' });
    assert.deepEqual(compileArguments(cmd('conf', 'inspect'), ['yes']), { with_defaults: true });
    assert.deepEqual(compileArguments(cmd('ping', 'inspect'), []), {});
  });

  void test('variadic arguments, with Celery quirk kept', () => {
    assert.deepEqual(compileArguments(cmd('revoke'), ['a', 'b']), { task_id: ['a', 'b'] });
    assert.deepEqual(compileArguments(cmd('registered', 'inspect'), []), { taskinfoitems: [] });
    assert.deepEqual(compileArguments(cmd('query_task', 'inspect'), ['x']), { ids: ['x'] });
    assert.deepEqual(compileArguments(cmd('terminate'), ['SIGKILL', 'a', 'b']), {
      signal: 'SIGKILL',
      task_id: ['a', 'b'],
    });
    // Celery slices from where it stopped: with only the signal given, it is also the id list.
    assert.deepEqual(compileArguments(cmd('terminate'), ['SIGKILL']), {
      signal: 'SIGKILL',
      task_id: ['SIGKILL'],
    });
  });

  void test('bad arguments are usage errors', () => {
    assert.throws(
      () => compileArguments(cmd('rate_limit'), ['a', 'b', 'c']),
      /takes arguments: <task_name> <rate_limit/,
    );
    assert.throws(() => compileArguments(cmd('pool_grow'), ['x']), /invalid literal for int/);
    assert.throws(
      () => compileArguments(cmd('time_limit'), ['t', 'soon']),
      /could not convert string to float/,
    );
    assert.throws(() => compileArguments(cmd('conf', 'inspect'), ['maybe']), /invalid truth value/);
  });
});

void describe('replies printed as celery inspect prints them', () => {
  void test('ok / error / list / dict / None', () => {
    assert.deepEqual(prettyReply({ ok: 'pong' }), { ok: true, text: '    pong' });
    assert.deepEqual(prettyReply({ error: "KeyError('x')" }), {
      ok: false,
      text: "    KeyError('x')",
    });
    assert.equal(plain(prettyReply(['tasks.add', 'tasks.mul']).text), '* tasks.add\n* tasks.mul');
    assert.equal(prettyReply([]).text, '- empty -');
    assert.equal(plain(prettyReply([{ id: 'a', args: [1] }]).text), "* {'id': 'a', 'args': [1]}");
    assert.deepEqual(prettyReply(null), { ok: true, text: 'None' });
    assert.deepEqual(prettyReply({ clock: 5 }), { ok: true, text: '{\n    "clock": 5\n}' });
  });

  void test("json.dumps(sort_keys=True, indent=4), as Python's", () => {
    assert.equal(
      pyJsonIndent({ b: [1, { x: 'é', a: null }], a: {}, c: [], d: 1.5, e: true }),
      '{\n    "a": {},\n    "b": [\n        1,\n        {\n            "a": null,\n            "x": "\\u00e9"\n        }\n    ],\n    "c": [],\n    "d": 1.5,\n    "e": true\n}',
    );
  });

  void test('the ping lines and the count', () => {
    let out = '';
    sayReply((t) => (out += t), { 'celery@host': { ok: 'pong' } }, true);
    assert.equal(plain(out), '->  celery@host: OK\n        pong\n');
    out = '';
    sayReply((t) => (out += t), { 'celery@host': { ok: 'pong' } }, false);
    assert.equal(plain(out), '->  celery@host: OK\n');
    out = '';
    sayReply((t) => (out += t), { 'w@h': { error: 'unknown task' } }, true);
    assert.equal(plain(out), '->  w@h: ERROR\n        unknown task\n');
    assert.equal(nodesOnline(1), '\n1 node online.\n');
    assert.equal(nodesOnline(3), '\n3 nodes online.\n');
    assert.equal(indent('a\nb', 2), '  a\n  b');
    assert.deepEqual(destinationList('a@x, b@y'), ['a@x', 'b@y']);
    assert.equal(destinationList(undefined), undefined);
  });
});

void describe('the monitor screen', () => {
  const base = { hostname: 'w@h', utcoffset: 0, pid: 1, clock: 1 };
  function state(): ClusterState {
    const s = new ClusterState();
    s.apply(
      decodeEvent({
        ...base,
        type: 'worker-heartbeat',
        freq: 2,
        active: 1,
        processed: 4,
        timestamp: 100,
        local_received: 100,
      }),
    );
    s.apply(
      decodeEvent({
        ...base,
        type: 'task-received',
        uuid: 'aaaaaaaa-0000-4000-8000-000000000001',
        name: 'tasks.add',
        args: '(2, 3)',
        kwargs: '{}',
        timestamp: 100,
      }),
    );
    s.apply(
      decodeEvent({
        ...base,
        type: 'task-succeeded',
        uuid: 'aaaaaaaa-0000-4000-8000-000000000001',
        result: '5',
        runtime: 0.01,
        timestamp: 101,
      }),
    );
    s.apply(
      decodeEvent({
        ...base,
        type: 'task-failed',
        uuid: 'bbbbbbbb-0000-4000-8000-000000000002',
        exception: "ValueError('boom')",
        traceback: 'Traceback...\nValueError: boom',
        timestamp: 102,
      }),
    );
    return s;
  }

  void test('lists tasks newest first with name, worker, state; details of the selected task; workers', () => {
    const lines = renderMonitor(
      {
        state: state(),
        now: 101.5,
        broker: 'redis://x:6379/0',
        selected: 'aaaaaaaa-0000-4000-8000-000000000001',
        scroll: 0,
        message: '',
        prompt: null,
      },
      120,
      30,
    ).map(plain);
    assert.equal(lines.length, 29);
    assert.ok(
      lines.every((l) => l.length <= 120),
      'fits the width',
    );
    assert.match(lines[0]!, /workers online: 1 +tasks: 2 +events: 4/);
    assert.match(lines[1]!, /UUID +TASK +WORKER +TIME +STATE/);
    assert.match(lines[2]!, /bbbbbbbb-0000-4000-8000-000000000002 +w@h +\d\d:\d\d:\d\d FAILURE/);
    assert.match(
      lines[3]!,
      /aaaaaaaa-0000-4000-8000-000000000001 tasks\.add +w@h +\d\d:\d\d:\d\d SUCCESS/,
    );
    const text = lines.join('\n');
    assert.match(text, /tasks\.add aaaaaaaa-0000-4000-8000-000000000001 {2}SUCCESS {2}worker: w@h/);
    assert.match(text, /args: \(2, 3\) {2}kwargs: \{\}/);
    assert.match(text, /result: 5/);
    assert.match(text, /Workers: w@h \(online active 1 processed 4/);
    assert.match(lines.at(-1)!, /r: revoke .* l: rate limit .* q: quit/);
  });

  void test('a failed task shows its exception and traceback; a prompt replaces the footer; offline workers', () => {
    const lines = renderMonitor(
      {
        state: state(),
        now: 200,
        broker: 'b',
        selected: 'bbbbbbbb-0000-4000-8000-000000000002',
        scroll: 0,
        message: '',
        prompt: { label: 'Rate limit for tasks.add: ', value: '10/m' },
      },
      80,
      24,
    ).map(plain);
    const text = lines.join('\n');
    assert.match(text, /exception: ValueError\('boom'\)/);
    assert.match(text, /ValueError: boom/);
    assert.match(text, /w@h \(offline/);
    assert.match(lines.at(-1)!, /Rate limit for tasks\.add: 10\/m█/);
    assert.match(lines[0]!, /workers online: 0/);
  });

  void test('fit cuts and pads', () => {
    assert.equal(fit('abcdef', 4), 'abc…');
    assert.equal(fit('ab', 4), 'ab  ');
    assert.equal(fit('a\nb', 3), 'a b');
  });
});

void describe('CLI colours', () => {
  void test('on for a terminal only; NO_COLOR/--no-color off, FORCE_COLOR/--color on; CI alone changes nothing', () => {
    assert.equal(colorsWanted({ CI: 'true' }, [], false), false, 'CI into a pipe: no escape codes');
    assert.equal(colorsWanted({}, [], true), true);
    assert.equal(colorsWanted({ TERM: 'dumb' }, [], true), false);
    assert.equal(colorsWanted({ NO_COLOR: '' }, [], true), false);
    assert.equal(colorsWanted({}, ['--no-color'], true), false);
    assert.equal(colorsWanted({ FORCE_COLOR: '1' }, [], false), true);
    assert.equal(colorsWanted({}, ['--color'], false), true);
  });
});
