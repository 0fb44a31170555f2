/**
 * Our worker runs Python's canvases: the first message of each worker_* fixture (as the
 * Python client sent it) goes to a celeriac worker on the memory transport, and what the
 * worker sends and stores must be what the Python worker sent and stored (worker_chain3,
 * worker_group3, worker_chord3, worker_chord_failure, worker_task_link,
 * worker_task_link_error), random ids numbered by first appearance.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { Worker } from '../../src/index.js';
import { encodeMeta } from '../../src/protocol/result-meta.js';
import type { TaskMeta, WireMessage } from '../../src/protocol/types.js';
import { jsonLoads } from '../../src/serialization/json.js';
import { Logger } from '../../src/util/logger.js';
import {
  fixtureApp,
  messageText,
  record,
  sent,
  withoutIds,
  type Event,
} from '../support/canvas.js';
import {
  fixtureMessages,
  loadFixture,
  wireFromRedisEnvelope,
  type FixtureMessage,
  type Json,
} from '../support/fixtures.js';

type Scenario = ReturnType<typeof fixtureApp> & {
  events: Event[];
  worker: Worker;
  lines: string[];
};
const running: Scenario[] = [];

async function start(): Promise<Scenario> {
  const parts = fixtureApp();
  const events = await record(parts.app, true);
  const lines: string[] = [];
  const logger = new Logger({ level: 'INFO', sink: { write: (l: string) => void lines.push(l) } });
  const worker = new Worker(parts.app, { concurrency: 1, logger });
  await worker.start();
  const scenario = { ...parts, events, worker, lines };
  running.push(scenario);
  return scenario;
}

afterEach(async () => {
  for (const s of running.splice(0)) {
    await s.worker.stop();
    await s.app.close();
  }
});

/** Publishes Python's first message of a fixture to our broker. */
async function publishPython(
  s: Scenario,
  messages: readonly FixtureMessage[],
  count = 1,
): Promise<void> {
  const transport = await s.app.connection();
  for (const m of messages.slice(0, count)) {
    await transport.publish(wireFromRedisEnvelope(m.envelope), {
      exchange: '',
      routingKey: 'celery',
    });
  }
}

/** A stored meta as comparable text (date_done and traceback left out). */
function metaText(meta: TaskMeta | Json | null): string {
  const decoded = (
    meta && 'taskId' in meta ? jsonLoads(encodeMeta(meta as TaskMeta)) : meta
  ) as Json | null;
  if (!decoded) return 'null';
  const { date_done: _d, traceback: _t, ...rest } = decoded;
  return JSON.stringify(rest);
}

/**
 * Compares Python's messages and metas with ours. `ours` starts with Python's own first
 * messages (what both workers received), so ids are numbered alike.
 */
async function assertSameRun(s: Scenario, file: string, firstCount = 1): Promise<void> {
  const fixture = loadFixture(file);
  const python = fixtureMessages(file, fixture);
  const ourWires: WireMessage[] = [
    ...python.slice(0, firstCount).map((m) => wireFromRedisEnvelope(m.envelope)),
    ...sent(s.events),
  ];
  const pyWrites = (fixture['result_writes_in_order'] as { decoded: Json }[]).map((w) => w.decoded);
  const pyMetas = python.map(
    (m) => pyWrites.find((w) => w['task_id'] === m.envelope.headers['id']) ?? null,
  );
  const backend = await s.app.backend();
  const ourMetas = await Promise.all(ourWires.map((w) => backend.get(String(w.headers['id']))));
  const ours = withoutIds([
    ...ourWires.flatMap((w) => messageText(w.headers, w.body)),
    ...ourMetas.map(metaText),
  ]);
  const theirs = withoutIds([
    ...python.flatMap((m) =>
      messageText(m.envelope.headers, Buffer.from(m.envelope.body, 'base64')),
    ),
    ...pyMetas.map((m) => metaText(m)),
  ]);
  assert.deepEqual(ours, theirs, s.lines.join('\n'));
}

void describe('a celeriac worker runs Python-sent canvases as a Python worker does', () => {
  void test('worker_chain3: next step with the rest of the chain, the last with chain []', async () => {
    const s = await start();
    await publishPython(s, fixtureMessages('worker_chain3'));
    assert.equal(
      await s.app.AsyncResult('c0000000-0000-4000-8000-000000000007').get({ timeout: 10 }),
      24,
    );
    await assertSameRun(s, 'worker_chain3');
  });

  void test('worker_group3: members store their group_id', async () => {
    const s = await start();
    const messages = fixtureMessages('worker_group3');
    await publishPython(s, messages, 3);
    for (const m of messages)
      await s.app.AsyncResult(String(m.envelope.headers['id'])).get({ timeout: 10 });
    await assertSameRun(s, 'worker_group3', 3);
  });

  void test('worker_chord3: the last header task sends the body with [[0, 2, 4]]', async () => {
    const s = await start();
    const messages = fixtureMessages('worker_chord3');
    // Python's client stored the chord size before the last header task.
    const backend = await s.app.backend();
    await backend.setChordSize(String(messages[0]!.envelope.headers['group']), 3);
    await publishPython(s, messages, 3);
    assert.equal(
      await s.app.AsyncResult('c0000000-0000-4000-8000-000000000009').get({ timeout: 10 }),
      6,
    );
    await assertSameRun(s, 'worker_chord3', 3);
  });

  void test('worker_task_link: the callback gets [retval, ...args], sent before SUCCESS is stored', async () => {
    const s = await start();
    await publishPython(s, fixtureMessages('worker_task_link'));
    const res = s.app.AsyncResult('c0000000-0000-4000-8000-000000000005');
    assert.equal(await res.get({ timeout: 10 }), 4);
    const [child] = await res.children();
    assert.equal(await child!.get({ timeout: 10 }), 40);
    await assertSameRun(s, 'worker_task_link');
  });

  void test('worker_task_link_error: the errback gets [task_id] and a fresh group', async () => {
    const s = await start();
    await publishPython(s, fixtureMessages('worker_task_link_error'));
    const res = s.app.AsyncResult('c0000000-0000-4000-8000-000000000006');
    await assert.rejects(res.get({ timeout: 10 }), /linked-boom/);
    const errback = sent(s.events)[0]!;
    const value = await s.app.AsyncResult(String(errback.headers['id'])).get({ timeout: 10 });
    assert.equal(value, 'errback saw c0000000-0000-4000-8000-000000000006');
    // The failure's traceback and message differ (a JS stack): compare the messages only.
    const python = fixtureMessages('worker_task_link_error');
    const ours = withoutIds(
      [python[0]!.envelope, errback].flatMap((w) =>
        'body' in w && typeof w.body === 'string'
          ? messageText(w.headers, Buffer.from(w.body, 'base64'))
          : messageText((w as WireMessage).headers, (w as WireMessage).body),
      ),
    );
    const theirs = withoutIds(
      python.flatMap((m) =>
        messageText(m.envelope.headers, Buffer.from(m.envelope.body, 'base64')),
      ),
    );
    assert.deepEqual(ours, theirs);
  });

  void test('worker_chord_failure: ChordError stored on the body id, body never sent, keys kept', async () => {
    const s = await start();
    const fixture = loadFixture('worker_chord_failure');
    const messages = fixtureMessages('worker_chord_failure', fixture).filter(
      (m) => typeof m.envelope.headers['group'] === 'string',
    );
    const gid = String(messages[0]!.envelope.headers['group']);
    const backend = await s.app.backend();
    await backend.setChordSize(gid, 3);
    await publishPython(s, messages, 3);
    const body = s.app.AsyncResult('cf000000-0000-4000-8000-000000000001');
    await assert.rejects(body.get({ timeout: 10 }), (err: Error) => {
      assert.equal(err.name, 'ChordError');
      return true;
    });
    const keys = fixture['keys_after'] as Record<string, { value?: string }>;
    const pyMeta = jsonLoads(
      keys['celery-task-meta-cf000000-0000-4000-8000-000000000001']!.value!,
    ) as Json;
    const ours = await backend.get(body.id);
    assert.equal(metaText(ours), metaText(pyMeta));
    assert.equal(sent(s.events).length, 0, 'no body message');
    // The join's bookkeeping is left in place, as Python leaves it.
    const again = await backend.chordPartCompleted(gid, 3, { ...ours!, taskId: 'late' });
    assert.equal(again.complete, false);
  });
});
