import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageMalformedError } from '../../src/errors.js';
import { decodeMeta, encodeMeta, encodeRpcMeta } from '../../src/protocol/result-meta.js';
import type { TaskMeta } from '../../src/protocol/types.js';
import { fixtureNames, loadFixture, type Json } from '../support/fixtures.js';

/** Every task meta Python wrote in the fixtures (SETEX celery-task-meta-*), with where. */
function pythonMetas(): { where: string; raw: string }[] {
  const out: { where: string; raw: string }[] = [];
  const walk = (where: string, node: unknown): void => {
    if (Array.isArray(node)) {
      if (
        node[0] === 'SETEX' &&
        typeof node[1] === 'string' &&
        node[1].startsWith('celery-task-meta-')
      ) {
        out.push({ where, raw: String(node[3]) });
      }
      node.forEach((child, i) => walk(`${where}[${i}]`, child));
    } else if (typeof node === 'object' && node !== null) {
      const o = node as Json;
      if (
        o['command'] === 'SETEX' &&
        String(o['key']).startsWith('celery-task-meta-') &&
        typeof o['raw'] === 'string'
      ) {
        out.push({ where, raw: o['raw'] });
      }
      for (const [k, v] of Object.entries(o)) walk(`${where}.${k}`, v);
    }
  };
  for (const name of fixtureNames()) walk(name, loadFixture(name));
  return out;
}

void describe('result metas', () => {
  const metas = pythonMetas();

  void test('the fixtures hold metas of every state Python stores', () => {
    const states = new Set(metas.map((m) => decodeMeta(m.raw).status));
    assert.deepEqual([...states].sort(), ['FAILURE', 'RETRY', 'REVOKED', 'STARTED', 'SUCCESS']);
    assert.ok(metas.length > 50, `found ${metas.length}`);
  });

  void test('every meta Python wrote decodes and re-encodes to the same bytes', () => {
    for (const { where, raw } of metas) {
      assert.equal(encodeMeta(decodeMeta(raw)).toString('utf8'), raw, where);
    }
  });

  void test('result_success, built from scratch', () => {
    const [write] = loadFixture('result_success')['result_writes_in_order'] as Json[];
    const meta: TaskMeta = {
      taskId: 'c0000000-0000-4000-8000-000000000001',
      status: 'SUCCESS',
      result: 5,
      traceback: null,
      children: [],
      dateDone: '2026-11-25T05:43:22.702875',
    };
    assert.equal(encodeMeta(meta).toString('utf8'), write!['raw']);
  });

  void test('FAILURE: the result is exception info; the traceback is kept', () => {
    const [write] = loadFixture('result_failure')['result_writes_in_order'] as Json[];
    const meta = decodeMeta(Buffer.from(String(write!['raw'])));
    assert.equal(meta.status, 'FAILURE');
    assert.deepEqual(meta.result, {
      excType: 'ValueError',
      excModule: 'builtins',
      excMessage: ['boom'],
    });
    assert.match(meta.traceback ?? '', /^Traceback \(most recent call last\)/);
    assert.equal(meta.dateDone?.length, 26);
  });

  void test('RETRY keeps a null date_done; STARTED keeps {pid, hostname}; extended fields', () => {
    const retry = decodeMeta(
      String((loadFixture('result_retry')['result_writes_in_order'] as Json[])[0]!['raw']),
    );
    assert.equal(retry.status, 'RETRY');
    assert.equal(retry.dateDone, null);
    const writes = loadFixture('result_extended_and_started')['result_writes_in_order'] as Json[];
    const started = writes
      .map((w) => decodeMeta(String(w['raw'])))
      .find((m) => m.status === 'STARTED' && m.name === 'tasks.echo');
    assert.ok(started);
    assert.deepEqual(started.result, { pid: 19980, hostname: 'celery@specworker' });
    assert.equal(started.name, 'tasks.echo');
    assert.deepEqual(started.args, [1]);
    assert.deepEqual(started.kwargs, { a: 'b' });
    assert.equal(started.worker, 'celery@specworker');
    assert.equal(started.retries, 0);
    assert.equal(started.queue, 'celery');
  });

  void test('a SUCCESS result shaped like exception info is left alone', () => {
    const lookalike = { excType: 'x', excModule: 'y', excMessage: [] };
    const meta: TaskMeta = {
      taskId: 't',
      status: 'SUCCESS',
      result: lookalike,
      traceback: null,
      children: [],
      dateDone: null,
    };
    assert.deepEqual(decodeMeta(encodeMeta(meta)).result, lookalike);
  });

  void test('extended fields are written all together, missing ones as null, before task_id', () => {
    const meta: TaskMeta = {
      taskId: 't',
      status: 'SUCCESS',
      result: 1,
      traceback: null,
      children: [],
      dateDone: null,
      parentId: 'p',
      name: 'tasks.add',
    };
    assert.equal(
      encodeMeta(meta).toString(),
      '{"status": "SUCCESS", "result": 1, "traceback": null, "children": [], "date_done": null, "parent_id": "p", ' +
        '"name": "tasks.add", "args": null, "kwargs": null, "worker": null, "retries": null, "queue": null, "task_id": "t"}',
    );
  });

  void test("the RPC backend's bodies decode and re-encode byte for byte", () => {
    const messages = loadFixture('amqp_rpc_result')['messages'] as Json[];
    assert.equal(messages.length, 2);
    for (const msg of messages) {
      const raw = Buffer.from(String(msg['body_base64']), 'base64');
      const meta = decodeMeta(raw);
      assert.equal(meta.dateDone, null);
      assert.ok(encodeRpcMeta(meta).equals(raw), raw.toString());
    }
  });

  void test('a result that cannot be written as JSON: the error names its path in the meta', () => {
    const meta: TaskMeta = {
      taskId: 'id-1',
      status: 'SUCCESS',
      result: { when: Symbol('x') },
      traceback: null,
      children: [],
      dateDone: null,
    };
    assert.throws(() => encodeMeta(meta), /result\.when/);
  });

  void test('a task that returned nothing stores Python\'s None: "result": null', () => {
    const meta: TaskMeta = {
      taskId: 'id-2',
      status: 'SUCCESS',
      result: undefined,
      traceback: null,
      children: [],
      dateDone: '2026-12-02T00:00:00.123000',
    };
    const text = encodeMeta(meta).toString('utf8');
    assert.equal(
      text,
      '{"status": "SUCCESS", "result": null, "traceback": null, "children": [], "date_done": "2026-12-02T00:00:00.123000", "task_id": "id-2"}',
    );
    // The generic path (a meta from untyped code, without children) writes it the same way.
    const untyped = { ...meta, children: undefined } as unknown as TaskMeta;
    assert.match(encodeMeta(untyped).toString('utf8'), /"result": null/);
  });

  void test('not a meta', () => {
    assert.throws(() => decodeMeta('[1]'), MessageMalformedError);
    assert.throws(() => decodeMeta('{"task_id": "x"}'), /no 'status'/);
    assert.throws(() => decodeMeta('{"status": "SUCCESS"}'), /no 'task_id'/);
  });
});
