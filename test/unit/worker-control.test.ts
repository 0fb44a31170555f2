/**
 * A celeriac worker answering remote control and sending events, in one process on the memory
 * transport (the app is both client and worker). Replies are checked
 * against the shapes Python workers give (the pidbox fixtures).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Celery, Worker, type TaskContext } from '../../src/index.js';
import { EventReceiver } from '../../src/events/receiver.js';
import type { CeleryEvent } from '../../src/protocol/event.js';
import { Logger } from '../../src/util/logger.js';
import { loadFixture } from '../support/fixtures.js';
import { until as pollUntil } from '../support/poll.js';

type Json = Record<string, unknown>;

const NODE = 'celery@unit';

function fixtureReply(name: string): unknown {
  const replies = loadFixture(name)['replies'] as Json[];
  return (replies[0]!['body_decoded'] as Json)['celery@specworker'];
}

/** Polls every 10 ms, for 5000 ms unless told. */
const eventually = (
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 5000,
): Promise<void> => pollUntil(check, what, ms, 10);

void describe('worker remote control and events (memory transport)', () => {
  // One app: the memory result backend is not shared between apps.
  const workerApp = new Celery('w', { broker: 'memory://', backend: 'memory://' });
  const client = workerApp;
  const gates = new Map<string, () => void>();
  workerApp.task((x: number, y: number) => x + y, { name: 'tasks.add' });
  workerApp.task(
    (ctx: TaskContext, key: string) =>
      new Promise<string>((resolve, reject) => {
        gates.set(key, () => resolve(key));
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
      }),
    { name: 'tasks.wait', bind: true },
  );
  const wait = client.remoteTask<[key: string], string>('tasks.wait');
  const add = client.remoteTask<[x: number, y: number], number>('tasks.add');
  let shutdownAsked: string | undefined;
  const logs: string[] = [];
  const worker = new Worker(workerApp, {
    hostname: NODE,
    concurrency: 1,
    taskEvents: true,
    logger: new Logger({ level: 'INFO', sink: { write: (l: string) => void logs.push(l) } }),
    onShutdownRequest: (reason) => (shutdownAsked = reason),
  });
  workerApp.configure({ workerPrefetchMultiplier: 2 });
  const events: CeleryEvent[] = [];
  let receiver: EventReceiver;
  const inspect = () => client.control.inspect({ destination: [NODE], timeout: 2 });

  before(async () => {
    receiver = new EventReceiver({
      transport: await client.connection(),
      clock: client.lamport,
      onEvent: (e) => events.push(e),
    });
    await receiver.start();
    await worker.start();
  });
  after(async () => {
    for (const open of gates.values()) open();
    await worker.stop();
    await receiver.close();
    await workerApp.close();
  });

  void test('ping: {ok: pong} from the node; worker-online was sent', async () => {
    assert.deepEqual(await client.control.ping({ timeout: 0.3 }), [{ [NODE]: { ok: 'pong' } }]);
    assert.deepEqual(await inspect().ping(), { [NODE]: { ok: 'pong' } });
    await eventually(
      () => events.some((e) => e.type === 'worker-online' && e.hostname === NODE),
      'worker-online',
    );
    const online = events.find((e) => e.type === 'worker-online')!;
    assert.ok(
      online.group === 'worker' && online.swIdent === 'celeriac' && online.freq === 2,
      'online fields',
    );
  });

  void test("a task's events: received, started, succeeded, with Python's fields", async () => {
    const r = await add.delay(2, 3);
    assert.equal(await r.get({ timeout: 5 }), 5);
    await eventually(
      () =>
        events.some((e) => e.type === 'task-succeeded' && e.group === 'task' && e.uuid === r.id),
      'task-succeeded',
    );
    const mine = events.filter((e) => e.group === 'task' && e.uuid === r.id);
    assert.deepEqual(
      mine.map((e) => e.type),
      ['task-received', 'task-started', 'task-succeeded'],
    );
    const first = loadFixture('events_redis')['first_of_each_type'] as Record<string, Json>;
    for (const e of mine) {
      const python = Object.keys(first[e.type]!['event'] as Json);
      const ours = Object.keys(e).length; // typed; compare the wire keys instead
      assert.ok(ours > 0);
      const { encodeEvent } = await import('../../src/protocol/event.js');
      assert.deepEqual(
        Object.keys(encodeEvent(e)).filter((k) => k !== 'local_received'),
        python,
        e.type,
      );
    }
    const ok = mine[2]!;
    assert.ok(ok.group === 'task' && ok.result === '5', 'result is the repr of 5');
    const received = mine[0]!;
    assert.ok(
      received.group === 'task' && received.args === '(2, 3)' && received.name === 'tasks.add',
      'received fields',
    );
  });

  void test('stats: the keys Python workers send', async () => {
    const raw = (await inspect().request('stats'))[NODE] as Json;
    const python = fixtureReply('pidbox_inspect_stats') as Json;
    assert.deepEqual(Object.keys(raw).sort(), Object.keys(python).sort());
    assert.deepEqual(Object.keys(raw['broker'] as Json), Object.keys(python['broker'] as Json));
    assert.deepEqual(Object.keys(raw['rusage'] as Json), Object.keys(python['rusage'] as Json));
    for (const key of [
      'max-concurrency',
      'processes',
      'max-tasks-per-child',
      'put-guarded-by-semaphore',
      'timeouts',
    ]) {
      assert.ok(key in (raw['pool'] as Json), key);
    }
    const stats = (await inspect().stats())[NODE];
    assert.ok(stats && !('error' in stats), 'stats decoded');
    if (!stats || 'error' in stats) return;
    assert.equal(stats.pid, process.pid);
    assert.equal(typeof stats.clock, 'string');
    assert.equal(stats.pool.maxConcurrency, 1);
    assert.equal(stats.prefetchCount, 2);
    assert.equal(stats.total['tasks.add'], 1);
    assert.equal(stats.broker.transport, 'memory');
  });

  void test('registered: sorted names, with attributes in Python spelling', async () => {
    assert.deepEqual((await inspect().registered())[NODE], ['tasks.add', 'tasks.wait']);
    assert.deepEqual((await inspect().registered('rate_limit', 'ignore_result'))[NODE], [
      'tasks.add [ignore_result=False]',
      'tasks.wait [ignore_result=False]',
    ]);
  });

  void test('scheduled lists an ETA task this worker parked in the broker, until its ETA passes', async () => {
    const later = await add.applyAsync([1, 2], null, { countdown: 0.6 });
    await eventually(
      async () => ((await inspect().request('scheduled'))[NODE] as unknown[]).length === 1,
      'the parked task in scheduled',
    );
    const [entry] = (await inspect().request('scheduled'))[NODE] as Json[];
    assert.deepEqual(Object.keys(entry!), ['eta', 'priority', 'request']);
    const request = entry!['request'] as Json;
    assert.equal(request['id'], later.id);
    assert.equal(request['name'], 'tasks.add');
    assert.deepEqual(request['args'], [1, 2]);
    assert.match(String(entry!['eta']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    assert.deepEqual(
      (await inspect().request('reserved'))[NODE],
      [],
      'not reserved: the broker holds it',
    );
    assert.equal(await later.get({ timeout: 10 }), 3);
    assert.deepEqual((await inspect().request('scheduled'))[NODE], [], 'gone once it ran');
  });

  void test('active, reserved, query_task, revoke of a reserved task, revoke --terminate of the active one', async () => {
    const running = await wait.delay('one');
    const queued = await wait.delay('two');
    await eventually(
      async () => ((await inspect().active())[NODE] as unknown[]).length === 1,
      'one active task',
    );
    const active = (await inspect().request('active'))[NODE] as Json[];
    const python = (fixtureReply('pidbox_inspect_active') as Json[])[0]!;
    assert.deepEqual(Object.keys(active[0]!), Object.keys(python));
    assert.deepEqual(
      Object.keys(active[0]!['delivery_info'] as Json),
      Object.keys(python['delivery_info'] as Json),
    );
    assert.equal(active[0]!['id'], running.id);
    assert.deepEqual(active[0]!['args'], ['one']);
    assert.equal(active[0]!['acknowledged'], false, 'acks late (celeriac default)');
    assert.equal(active[0]!['worker_pid'], process.pid);
    const safe = (await inspect().request('active', { safe: true }))[NODE] as Json[];
    assert.equal(safe[0]!['args'], "('one',)");
    await eventually(
      async () => ((await inspect().reserved())[NODE] as unknown[]).length === 1,
      'one reserved task',
    );
    const q = (await inspect().queryTask(running.id, queued.id, 'nope'))[NODE] as Json;
    assert.deepEqual(Object.keys(q).sort(), [queued.id, running.id].sort());
    assert.equal((q[running.id] as unknown[])[0], 'active');
    assert.equal((q[queued.id] as unknown[])[0], 'reserved');
    // AsyncResult.revoke() goes through app.control.
    assert.deepEqual(await queued.revoke({ reply: true, destination: [NODE] }), [
      { [NODE]: { ok: `tasks ${queued.id} flagged as revoked` } },
    ]);
    assert.ok(
      ((await inspect().revoked())[NODE] as string[]).includes(queued.id),
      'listed as revoked',
    );
    assert.deepEqual(
      await client.control.revoke(running.id, {
        terminate: true,
        reply: true,
        destination: [NODE],
      }),
      [{ [NODE]: { ok: `terminate: ${running.id}` } }],
    );
    await assert.rejects(running.get({ timeout: 5 }), /terminated/);
    await assert.rejects(queued.get({ timeout: 5 }), /revoked/);
    await eventually(
      () =>
        events.some(
          (e) =>
            e.type === 'task-revoked' &&
            e.group === 'task' &&
            e.uuid === running.id &&
            e.terminated === true,
        ),
      'task-revoked terminated',
    );
    assert.deepEqual(
      await client.control.revoke('unknown-id', {
        terminate: true,
        reply: true,
        destination: [NODE],
      }),
      [{ [NODE]: { ok: 'terminate: tasks unknown' } }],
    );
  });

  void test('rate_limit and time_limit: replies and errors as Python gives them', async () => {
    const status = (name: string, args: Json) =>
      client.control.broadcast(name, { arguments: args, reply: true, destination: [NODE] });
    assert.deepEqual(await status('rate_limit', { task_name: 'tasks.add', rate_limit: '10/m' }), [
      { [NODE]: fixtureReply('pidbox_control_rate_limit') },
    ]);
    // Like Python's (the command sets the task's attribute), registered shows the limit in force.
    assert.deepEqual((await inspect().registered('rate_limit'))[NODE], [
      'tasks.add [rate_limit=10/m]',
      'tasks.wait',
    ]);
    assert.deepEqual(await status('rate_limit', { task_name: 'tasks.add', rate_limit: 'abc/x' }), [
      { [NODE]: fixtureReply('pidbox_control_rate_limit_bad') },
    ]);
    assert.deepEqual(await status('rate_limit', { task_name: 'tasks.add', rate_limit: 'abc/s' }), [
      {
        [NODE]: {
          error: `Invalid rate limit string: ValueError("could not convert string to float: 'abc'")`,
        },
      },
    ]);
    assert.deepEqual(await status('rate_limit', { task_name: 'tasks.nope', rate_limit: '1/s' }), [
      { [NODE]: { error: 'unknown task' } },
    ]);
    assert.deepEqual(
      await client.control.rateLimit('tasks.add', null, { reply: true, destination: [NODE] }),
      [{ [NODE]: { ok: 'rate limit disabled successfully' } }],
    );
    assert.deepEqual(
      await client.control.timeLimit(
        'tasks.add',
        { soft: 10, hard: 20 },
        { reply: true, destination: [NODE] },
      ),
      [{ [NODE]: fixtureReply('pidbox_control_time_limit') }],
    );
    assert.deepEqual(worker.state.timeLimits.get('tasks.add'), { hard: 20, soft: 10 });
    assert.deepEqual(
      (await inspect().registered('rate_limit', 'time_limit', 'soft_time_limit'))[NODE],
      ['tasks.add [time_limit=20 soft_time_limit=10]', 'tasks.wait'],
    );
    assert.deepEqual(
      await client.control.timeLimit(
        'tasks.nope',
        { soft: 1 },
        { reply: true, destination: [NODE] },
      ),
      [{ [NODE]: fixtureReply('pidbox_control_time_limit_unknown') }],
    );
    worker.state.timeLimits.delete('tasks.add');
  });

  void test('unknown commands, autoscale and pool_restart answer with Python error reprs', async () => {
    const one = async (name: string) =>
      (await client.control.broadcast(name, { reply: true, destination: [NODE] }))[0];
    assert.deepEqual(await one('no_such_command'), {
      [NODE]: fixtureReply('pidbox_inspect_unknown_command'),
    });
    assert.deepEqual(await one('pool_restart'), {
      [NODE]: fixtureReply('pidbox_control_pool_restart'),
    });
    assert.deepEqual(await one('autoscale'), {
      [NODE]: { error: "ValueError('Autoscale not enabled')" },
    });
  });

  void test('heartbeat: null reply and an immediate worker-heartbeat', async () => {
    const before = events.filter((e) => e.type === 'worker-heartbeat').length;
    assert.deepEqual(await client.control.heartbeat({ reply: true, destination: [NODE] }), [
      { [NODE]: null },
    ]);
    await eventually(
      () => events.filter((e) => e.type === 'worker-heartbeat').length > before,
      'a heartbeat',
    );
  });

  void test('disable_events / enable_events switch task events', async () => {
    const one = async (name: string) =>
      (await client.control.broadcast(name, { reply: true, destination: [NODE] }))[0];
    assert.deepEqual(await one('enable_events'), { [NODE]: { ok: 'task events already enabled' } });
    assert.deepEqual(await one('disable_events'), { [NODE]: { ok: 'task events disabled' } });
    assert.deepEqual(await one('disable_events'), {
      [NODE]: { ok: 'task events already disabled' },
    });
    const quiet = await add.delay(1, 1);
    await quiet.get({ timeout: 5 });
    assert.deepEqual(await one('enable_events'), { [NODE]: { ok: 'task events enabled' } });
    const loud = await add.delay(2, 2);
    await loud.get({ timeout: 5 });
    await eventually(
      () =>
        events.some((e) => e.group === 'task' && e.uuid === loud.id && e.type === 'task-succeeded'),
      'events again',
    );
    assert.ok(
      !events.some((e) => e.group === 'task' && e.uuid === quiet.id),
      'no events while disabled',
    );
  });

  void test('add_consumer / cancel_consumer / active_queues', async () => {
    const queues = async () =>
      ((await inspect().request('active_queues'))[NODE] as Json[]).map((q) => q['name']);
    assert.deepEqual(await queues(), ['celery']);
    assert.deepEqual(
      (await inspect().request('active_queues'))[NODE],
      fixtureReply('pidbox_inspect_active_queues'),
    );
    assert.deepEqual(
      await client.control.addConsumer('extra', { reply: true, destination: [NODE] }),
      [{ [NODE]: fixtureReply('pidbox_control_add_consumer') }],
    );
    assert.deepEqual(
      (await inspect().request('active_queues'))[NODE],
      fixtureReply('pidbox_inspect_active_queues_after_add'),
    );
    const r = await add.applyAsync([3, 4], {}, { queue: 'extra' });
    assert.equal(await r.get({ timeout: 5 }), 7);
    assert.deepEqual(
      await client.control.cancelConsumer('extra', { reply: true, destination: [NODE] }),
      [{ [NODE]: fixtureReply('pidbox_control_cancel_consumer') }],
    );
    assert.deepEqual(await queues(), ['celery']);
  });

  void test('pool_grow / pool_shrink change the slots', async () => {
    assert.deepEqual(await client.control.poolGrow(2, { reply: true, destination: [NODE] }), [
      { [NODE]: { ok: 'pool will grow' } },
    ]);
    assert.equal(worker.concurrency, 3);
    assert.equal(((await inspect().request('stats'))[NODE] as Json)['prefetch_count'], 6);
    assert.deepEqual(await client.control.poolShrink(5, { reply: true, destination: [NODE] }), [
      { [NODE]: { ok: 'pool will shrink' } },
    ]);
    assert.equal(worker.concurrency, 1);
  });

  void test('conf, clock, report, hello', async () => {
    const conf = (await inspect().conf())[NODE] as Json;
    assert.equal(conf['broker_url'], 'memory://');
    assert.equal(conf['worker_prefetch_multiplier'], 2);
    assert.ok(!('task_serializer' in conf), 'defaults left out');
    const all = (await inspect().conf(true))[NODE] as Json;
    assert.equal(all['task_serializer'], 'json');
    assert.equal(all['task_default_routing_key'], '********', 'masked like Celery (KEY)');
    const clock = (await inspect().clock())[NODE] as { clock: number };
    assert.ok(clock.clock > 0, 'clock value');
    const report = (await inspect().report())[NODE] as { ok: string };
    assert.match(report.ok, /^\nsoftware -> celeriac:/);
    assert.match(report.ok, /settings -> transport:memory/);
    const hello = (
      await inspect().request('hello', {
        from_node: 'other@node',
        revoked: { 'dead-0': 1795585449.1 },
      })
    )[NODE] as Json;
    const revoked = hello['revoked'] as Record<string, [number, string]>;
    assert.ok(revoked['dead-0'], 'merged the revoked id of the other node');
    assert.equal(typeof hello['clock'], 'number');
    assert.ok(((await inspect().revoked())[NODE] as string[]).includes('dead-0'), 'dead-0 revoked');
    assert.deepEqual(await inspect().request('hello', { from_node: NODE, revoked: {} }), {
      [NODE]: null,
    });
  });

  void test('destination and pattern select nodes', async () => {
    assert.deepEqual(await client.control.ping({ destination: ['other@node'], timeout: 0.2 }), []);
    assert.deepEqual(
      await client.control.broadcast('ping', { reply: true, pattern: 'celery@un*', timeout: 0.2 }),
      [{ [NODE]: { ok: 'pong' } }],
    );
    assert.deepEqual(
      await client.control.broadcast('ping', {
        reply: true,
        pattern: 'celery@x.*',
        matcher: 'pcre',
        timeout: 0.2,
      }),
      [],
    );
  });

  void test('shutdown: no reply; the worker asks its owner to stop', async () => {
    assert.deepEqual(
      await client.control.shutdown({ reply: true, destination: [NODE], timeout: 0.3 }),
      [],
    );
    await eventually(() => shutdownAsked !== undefined, 'the shutdown request');
    assert.equal(shutdownAsked, 'Got shutdown from remote');
  });

  void test('worker-offline when it stops', async () => {
    await worker.stop();
    await eventually(
      () => events.some((e) => e.type === 'worker-offline' && e.hostname === NODE),
      'worker-offline',
    );
  });
});

void describe('autoscale control (worker started with autoscale)', () => {
  const app = new Celery('a', { broker: 'memory://', backend: 'memory://' });
  app.task((x: number) => x, { name: 'tasks.id' });
  const worker = new Worker(app, {
    hostname: 'auto@unit',
    autoscale: { max: 4, min: 1 },
    logger: new Logger({ level: 'CRITICAL' }),
  });
  before(() => worker.start());
  after(async () => {
    await worker.stop();
    await app.close();
  });

  void test('autoscale sets the bounds; pool_grow/shrink are refused as in Celery', async () => {
    const one = async (name: string, args: Json = {}) =>
      (
        await app.control.broadcast(name, {
          arguments: args,
          reply: true,
          destination: ['auto@unit'],
        })
      )[0];
    assert.deepEqual(await one('autoscale', { max: 6, min: 2 }), {
      'auto@unit': { ok: 'autoscale now max=6 min=2' },
    });
    assert.equal(worker.concurrency, 2, 'moved into the new bounds');
    assert.equal(worker.prefetchCount, 6);
    assert.deepEqual(await one('pool_grow', { n: 1 }), {
      'auto@unit': {
        error: 'pool_grow is not supported with autoscale. Adjust autoscale range instead.',
      },
    });
    assert.deepEqual(await one('pool_shrink', { n: 1 }), {
      'auto@unit': {
        error: 'pool_shrink is not supported with autoscale. Adjust autoscale range instead.',
      },
    });
  });
});
