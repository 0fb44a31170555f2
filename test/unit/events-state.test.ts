/**
 * The cluster-state reducer: the captured Python run replayed (what Celery's State would
 * conclude), liveness by the heartbeat window, out-of-order events, and bounds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClusterState, heartbeatExpires, isAlive } from '../../src/events/state.js';
import { decodeEvent, decodeEventBody, type CeleryEvent } from '../../src/protocol/event.js';
import { decodeEnvelope } from '../../src/protocol/kombu-envelope.js';
import { loadFixture } from '../support/fixtures.js';

type Json = Record<string, unknown>;

function ev(fields: Json): CeleryEvent {
  return decodeEvent({ hostname: 'w@h', utcoffset: 0, pid: 1, clock: 1, ...fields });
}

void describe('ClusterState', () => {
  void test('the Python main run replayed: final states, results, exceptions, workers', () => {
    const state = new ClusterState();
    for (const p of loadFixture('events_redis')['all_publishes_in_order'] as Json[]) {
      const body = JSON.parse(decodeEnvelope(String(p['raw'])).message.body.toString()) as unknown;
      for (const e of decodeEventBody(body)) {
        e.localReceived = e.timestamp;
        state.apply(e);
      }
    }
    const add = state.task('c0000000-0000-4000-8000-000000000001')!;
    assert.equal(add.state, 'SUCCESS');
    assert.equal(add.name, 'tasks.add');
    assert.equal(add.args, '(2, 3)');
    assert.equal(add.result, '5');
    assert.equal(add.worker, 'celery@specworker');
    assert.equal(add.client, 'gen17956@vm');
    assert.ok(
      add.sent! <= add.received! && add.received! <= add.started! && add.started! <= add.succeeded!,
    );
    assert.ok(add.runtime! > 0);
    const fail = state.task('c0000000-0000-4000-8000-000000000002')!;
    assert.equal(fail.state, 'FAILURE');
    assert.equal(fail.exception, "ValueError('boom')");
    assert.match(fail.traceback ?? '', /ValueError: boom/);
    const revoked = state.task('c0000000-0000-4000-8000-00000000000c')!;
    assert.equal(revoked.state, 'REVOKED');
    const retried = state.task('c0000000-0000-4000-8000-000000000004')!;
    assert.equal(retried.state, 'SUCCESS', 'retried once, then succeeded');
    assert.ok(retried.retried !== null);
    const worker = state.worker('celery@specworker')!;
    assert.equal(worker.offline, true, 'the run ends with worker-offline');
    assert.equal(worker.swIdent, 'py-celery');
    assert.equal(worker.processed, 23);
    assert.equal(state.aliveWorkers(Date.now() / 1000).length, 0);
    assert.ok(state.taskCount >= 20);
    assert.equal(
      state.tasksByTime()[0]!.timestamp! >= state.tasksByTime().at(-1)!.timestamp!,
      true,
    );
  });

  void test('a worker is alive until freq * 2 after its last heartbeat', () => {
    const state = new ClusterState();
    state.apply(ev({ type: 'worker-online', freq: 2, timestamp: 100, local_received: 100 }));
    const w = state.worker('w@h')!;
    assert.equal(heartbeatExpires(w), 104);
    assert.ok(isAlive(w, 103.9));
    assert.ok(!isAlive(w, 104));
    state.apply(
      ev({ type: 'worker-heartbeat', freq: 2, timestamp: 103, local_received: 103, active: 2 }),
    );
    assert.ok(isAlive(w, 106.9));
    assert.equal(w.active, 2);
    // Task events count as signs of life.
    state.apply(ev({ type: 'task-started', uuid: 't', timestamp: 106, local_received: 106 }));
    assert.ok(isAlive(w, 109));
    state.apply(ev({ type: 'worker-offline', freq: 2, timestamp: 107, local_received: 107 }));
    assert.ok(!isAlive(w, 107));
    assert.deepEqual(state.aliveWorkers(107), []);
    assert.equal(state.workers().length, 1, 'offline workers stay listed');
  });

  void test('heartbeats keep the last four, in order, also when they arrive late', () => {
    const state = new ClusterState();
    for (const t of [10, 12, 11, 14, 16])
      state.apply(ev({ type: 'worker-heartbeat', freq: 2, timestamp: t, local_received: t }));
    assert.deepEqual(state.worker('w@h')!.heartbeats, [11, 12, 14, 16]);
  });

  void test('events out of order never move a task back; RETRY always applies; late RECEIVED fills fields only', () => {
    const state = new ClusterState();
    state.apply(ev({ type: 'task-succeeded', uuid: 'a', result: '3', runtime: 0.1, timestamp: 5 }));
    state.apply(ev({ type: 'task-started', uuid: 'a', timestamp: 3 }));
    state.apply(
      ev({
        type: 'task-received',
        uuid: 'a',
        name: 'tasks.add',
        args: '(1, 2)',
        kwargs: '{}',
        retries: 0,
        timestamp: 2,
      }),
    );
    const a = state.task('a')!;
    assert.equal(a.state, 'SUCCESS');
    assert.equal(a.timestamp, 5);
    assert.equal(a.name, 'tasks.add');
    assert.equal(a.args, '(1, 2)');
    assert.equal(a.started, 3);
    assert.equal(a.received, 2);
    state.apply(ev({ type: 'task-started', uuid: 'b', timestamp: 1 }));
    state.apply(
      ev({ type: 'task-retried', uuid: 'b', exception: "RuntimeError('x')", timestamp: 2 }),
    );
    assert.equal(state.task('b')!.state, 'RETRY');
    state.apply(ev({ type: 'task-started', uuid: 'b', timestamp: 3 }));
    assert.equal(state.task('b')!.state, 'STARTED', 'the retry runs again');
    state.apply(ev({ type: 'task-custom', uuid: 'c', timestamp: 1 }));
    assert.equal(state.task('c')!.state, 'CUSTOM');
  });

  void test('bounded: the oldest tasks are forgotten; clearTasks keeps unfinished ones', () => {
    const state = new ClusterState({ maxTasks: 3 });
    for (const id of ['a', 'b', 'c', 'd'])
      state.apply(ev({ type: 'task-received', uuid: id, timestamp: 1 }));
    assert.equal(state.task('a'), undefined);
    assert.ok(state.task('d'));
    state.apply(ev({ type: 'task-succeeded', uuid: 'd', timestamp: 2 }));
    state.clearTasks();
    assert.deepEqual(
      state
        .tasksByTime()
        .map((t) => t.uuid)
        .sort(),
      ['b', 'c'],
    );
  });
});
