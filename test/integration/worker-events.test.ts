/**
 * The task events a real worker process (`celeriac worker -E`) sends for a failure, a retry
 * and a rejection, and the client's task-sent (taskSendSentEvent on), read off the `celeryev`
 * fanout as they go on the wire: field names and order as Python Celery 5.2.6 sends them (the
 * events_redis / events_redis_extended_run / task_sent_event fixtures), worker task events
 * batched as `task.multi` lists, task-sent a single event on `task.sent`; and decoded by
 * EventReceiver into the ClusterState the monitor shows. On SQLite and on Redis.
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Celery, ClusterState, EventReceiver, type CeleryEvent } from '../../src/index.js';
import { ROOT, sandbox, startWorker, type WorkerProcess } from '../e2e/cli-helpers.js';
import { loadFixture, type Json } from '../support/fixtures.js';
import { redisAvailable, startRedis, type RedisServer } from '../support/servers.js';

const APP = resolve(ROOT, 'test/fixtures/apps/events.ts');

/** One event as it went on the wire. */
interface WireEvent {
  routingKey: string;
  /** Part of a `task.multi` list. */
  inList: boolean;
  fields: Json;
}

/** Field names, in order, of the first event of each type Python Celery sent in the fixtures. */
function pythonFields(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (raw: string): void => {
    const envelope = JSON.parse(raw) as { body: string };
    const body = JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8')) as Json | Json[];
    for (const e of Array.isArray(body) ? body : [body]) {
      const type = String(e['type']);
      if (!out.has(type)) out.set(type, Object.keys(e));
    }
  };
  for (const file of ['events_redis', 'events_redis_extended_run'])
    for (const p of loadFixture(file)['all_publishes_in_order'] as Json[]) add(String(p['raw']));
  for (const p of loadFixture('task_sent_event')['publishes'] as Json[]) add(String(p['raw']));
  return out;
}

/** Polls until `check` passes, failing after `ms`. */
async function eventually(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function eventsSuite(name: string, brokerUrl: (dir: string) => Promise<string>): void {
  void describe(`task events of a worker process and task-sent of the client on ${name}`, () => {
    const box = sandbox();
    const node = `events-${name}@test`;
    const python = pythonFields();
    const wire: WireEvent[] = [];
    const decoded: CeleryEvent[] = [];
    let client: Celery;
    let worker: WorkerProcess;
    let receiver: EventReceiver;
    let closeRaw: (() => Promise<void>) | undefined;

    /** The wire events about task `id`, in arrival order. */
    const of = (id: string): WireEvent[] => wire.filter((e) => e.fields['uuid'] === id);
    const types = (id: string): string[] => of(id).map((e) => String(e.fields['type']));
    /**
     * The worker's events about task `id`, in order, once the client's one task-sent is checked
     * (it races the worker's: they come from two processes).
     */
    /** True once `type` and the client's task-sent for task `id` both arrived. */
    const arrived = (id: string, type: string): boolean =>
      types(id).includes(type) && types(id).includes('task-sent');
    const fromWorker = (id: string): string[] => {
      assert.equal(types(id).filter((t) => t === 'task-sent').length, 1, `one task-sent: ${id}`);
      return types(id).filter((t) => t !== 'task-sent');
    };
    const one = (id: string, type: string): WireEvent => {
      const found = of(id).filter((e) => e.fields['type'] === type);
      assert.equal(found.length, 1, `one ${type} for ${id}: ${types(id).join(', ')}`);
      return found[0]!;
    };
    /** Checks that a worker task event has Python's fields, in Python's order, in a task.multi list. */
    const likePython = (e: WireEvent): void => {
      const type = String(e.fields['type']);
      assert.deepEqual(Object.keys(e.fields), python.get(type), `${type}: Python's fields`);
      assert.equal(e.fields['hostname'], node, `${type}: hostname`);
      assert.equal(e.fields['pid'], worker.child.pid, `${type}: the worker's pid`);
      assert.ok(Number.isInteger(e.fields['clock']) && Number(e.fields['clock']) > 0, 'clock');
      assert.equal(typeof e.fields['timestamp'], 'number');
      assert.equal(typeof e.fields['utcoffset'], 'number');
      assert.deepEqual([e.routingKey, e.inList], ['task.multi', true], `${type}: batched`);
    };

    before(async () => {
      const url = await brokerUrl(box.dir);
      const env = { ...box.env, CELERY_BROKER_URL: url, CELERY_RESULT_BACKEND: url };
      client = new Celery('client', { broker: url, backend: url, taskSendSentEvent: true });
      const transport = await client.connection();
      await transport.purge('celery');
      const raw = await transport.subscribe('celeryev', '#', (message, routingKey) => {
        const body = JSON.parse(message.body.toString('utf8')) as Json | Json[];
        for (const fields of Array.isArray(body) ? body : [body])
          wire.push({ routingKey, inList: Array.isArray(body), fields });
      });
      closeRaw = () => raw.close();
      receiver = new EventReceiver({
        transport,
        clock: client.lamport,
        onEvent: (e) => decoded.push(e),
      });
      await receiver.start();
      worker = await startWorker(env, ['-E', '-c', '1', '-n', node], APP);
    });
    after(async () => {
      await worker?.stop('SIGKILL');
      await receiver?.close();
      await closeRaw?.();
      await client?.close();
      box.cleanup();
    });

    test('task-sent from the client: a single event on task.sent with the fields of Python', async () => {
      const r = await client.sendTask('events.add', [2, 3]);
      assert.equal(await r.get({ timeout: 20 }), 5);
      await eventually(() => arrived(r.id, 'task-succeeded'), 'task-succeeded');
      const sent = one(r.id, 'task-sent');
      assert.deepEqual(Object.keys(sent.fields), python.get('task-sent'));
      assert.deepEqual([sent.routingKey, sent.inList], ['task.sent', false]);
      const { timestamp, clock, utcoffset, ...rest } = sent.fields;
      assert.equal(typeof timestamp, 'number');
      assert.ok(Number.isInteger(clock), 'clock');
      assert.equal(typeof utcoffset, 'number');
      assert.deepEqual(rest, {
        hostname: client.origin,
        pid: process.pid,
        uuid: r.id,
        root_id: r.id,
        parent_id: null,
        name: 'events.add',
        args: '(2, 3)',
        kwargs: '{}',
        retries: 0,
        eta: null,
        expires: null,
        queue: 'celery',
        exchange: '',
        routing_key: 'celery',
        type: 'task-sent',
      });
      assert.match(client.origin, /^gen\d+@/, "Celery's client node name");
      const worker = fromWorker(r.id);
      assert.deepEqual(worker, ['task-received', 'task-started', 'task-succeeded']);
      for (const t of worker) likePython(one(r.id, t));
      assert.equal(one(r.id, 'task-succeeded').fields['result'], '5');
    });

    test('task-failed: the exception as Python repr and the traceback', async () => {
      const r = await client.sendTask('events.fail', ['boom']);
      await assert.rejects(r.get({ timeout: 20 }), /boom/);
      await eventually(() => arrived(r.id, 'task-failed'), 'task-failed');
      assert.deepEqual(fromWorker(r.id), ['task-received', 'task-started', 'task-failed']);
      const failed = one(r.id, 'task-failed');
      likePython(failed);
      assert.equal(failed.fields['exception'], "ValueError('boom')");
      const traceback = String(failed.fields['traceback']);
      assert.match(traceback, /^RangeError: boom\n/);
      assert.match(traceback, /test\/fixtures\/apps\/events\.ts:\d+/, 'points at the task');
    });

    test('task-retried, then the retried message runs: received again with retries=1 and an eta', async () => {
      const r = await client.sendTask('events.retry_once', [7]);
      assert.equal(await r.get({ timeout: 30 }), 7);
      await eventually(() => arrived(r.id, 'task-succeeded'), 'task-succeeded');
      assert.deepEqual(fromWorker(r.id), [
        'task-received',
        'task-started',
        'task-retried',
        'task-received',
        'task-started',
        'task-succeeded',
      ]);
      const retried = one(r.id, 'task-retried');
      likePython(retried);
      assert.equal(retried.fields['exception'], "RuntimeError('transient failure')");
      assert.match(String(retried.fields['traceback']), /transient failure/);
      const [first, second] = of(r.id).filter((e) => e.fields['type'] === 'task-received');
      assert.equal(first!.fields['retries'], 0);
      assert.equal(first!.fields['eta'], null);
      assert.equal(second!.fields['retries'], 1);
      assert.match(String(second!.fields['eta']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
      likePython(second!);
    });

    test('task-rejected for a message not yet acknowledged (acks late); none once acknowledged, as Celery', async () => {
      const late = await client.sendTask('events.reject_late', []);
      await eventually(() => arrived(late.id, 'task-rejected'), 'task-rejected');
      assert.deepEqual(fromWorker(late.id), ['task-received', 'task-started', 'task-rejected']);
      const rejected = one(late.id, 'task-rejected');
      likePython(rejected);
      assert.equal(rejected.fields['requeue'], false);
      assert.equal(await late.state(), 'PENDING', 'a rejected task stores nothing');
      const early = await client.sendTask('events.reject', []);
      // One task at a time: once the next task has succeeded, the rejection is long done.
      const barrier = await client.sendTask('events.add', [1, 1]);
      assert.equal(await barrier.get({ timeout: 20 }), 2);
      await eventually(() => arrived(barrier.id, 'task-succeeded'), 'the barrier');
      assert.deepEqual(fromWorker(early.id), ['task-received', 'task-started']);
      assert.match(worker.output(), /events\.reject\[[0-9a-f-]+\] rejected/);
    });

    test('EventReceiver and ClusterState: the states, exception, traceback, retries and client', async () => {
      const isTask = (e: WireEvent): boolean => String(e.fields['type']).startsWith('task-');
      await eventually(
        () => decoded.filter((e) => e.group === 'task').length === wire.filter(isTask).length,
        'every task event decoded',
      );
      const state = new ClusterState();
      for (const e of decoded) state.apply(e);
      const byName = (n: string) => state.tasksByTime().filter((t) => t.name === n);
      const [failed] = byName('events.fail');
      assert.equal(failed?.state, 'FAILURE');
      assert.equal(failed?.exception, "ValueError('boom')");
      assert.match(failed?.traceback ?? '', /^RangeError: boom/);
      assert.equal(failed?.client, client.origin);
      assert.equal(failed?.worker, node);
      const [retried] = byName('events.retry_once');
      assert.equal(retried?.state, 'SUCCESS');
      assert.equal(retried?.retries, 1);
      assert.equal(retried?.result, '7');
      assert.equal(typeof retried?.retried, 'number');
      // Celery's State keeps STARTED after a task-rejected (REJECTED ranks before STARTED in
      // celery.states.PRECEDENCE); only the time of the rejection is recorded.
      const [late] = byName('events.reject_late');
      assert.equal(late?.state, 'STARTED');
      assert.equal(typeof late?.rejected, 'number');
      const [early] = byName('events.reject');
      assert.equal(early?.state, 'STARTED');
      assert.equal(early?.rejected, null);
      assert.deepEqual(
        byName('events.add').map((t) => t.state),
        ['SUCCESS', 'SUCCESS'],
      );
    });
  });
}

eventsSuite('sqlite', async (dir) => `sqlite:///${dir}/broker.db`);

if (redisAvailable()) {
  let server: RedisServer | undefined;
  after(() => server?.stop());
  eventsSuite('redis', async () => {
    server = await startRedis({ db: 15, flush: true });
    return server.url;
  });
} else {
  test('task events on redis', { skip: 'redis-server is not installed' }, () => {});
}
