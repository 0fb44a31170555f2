/**
 * Remote control and events against a real worker process (prefork pool, task events on),
 * written against the transport seam: remote-control-sqlite.test.ts and
 * remote-control-redis.test.ts run this same suite.
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Celery } from '../../src/index.js';
import { EventReceiver } from '../../src/events/receiver.js';
import type { CeleryEvent } from '../../src/protocol/event.js';
import { ROOT, run, sandbox, startWorker, type WorkerProcess } from '../e2e/cli-helpers.js';
import { until as pollUntil } from '../support/poll.js';

const APP = resolve(ROOT, 'test/fixtures/apps/remote.ts');

export interface Broker {
  name: string;
  url(dir: string): Promise<string>;
}

/** Polls every 50 ms, for 15,000 ms unless told. */
const eventually = (
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 15_000,
): Promise<void> => pollUntil(check, what, ms, 50);

/** Defines the suite for one broker. */
export function remoteControlSuite(broker: Broker): void {
  void describe(`remote control and events on ${broker.name}`, () => {
    const box = sandbox();
    const node = `rc-${broker.name}@test`;
    let env: NodeJS.ProcessEnv = {};
    let client: Celery;
    let worker: WorkerProcess;
    let receiver: EventReceiver;
    const events: CeleryEvent[] = [];
    const to = { destination: [node], timeout: 5 };
    const taskEvents = (id: string): string[] =>
      events.filter((e) => e.group === 'task' && e.uuid === id).map((e) => e.type);

    before(async () => {
      const url = await broker.url(box.dir);
      env = { ...box.env, CELERY_BROKER_URL: url, CELERY_RESULT_BACKEND: url };
      client = new Celery('client', { broker: url, backend: url });
      const transport = await client.connection();
      await transport.purge('celery');
      receiver = new EventReceiver({
        transport,
        clock: client.lamport,
        onEvent: (e) => events.push(e),
      });
      await receiver.start();
      worker = await startWorker(env, ['-P', 'prefork', '-c', '2', '-E', '-n', node], APP);
    });
    after(async () => {
      await worker?.stop('SIGKILL');
      await receiver?.close();
      await client?.close();
      box.cleanup();
    });

    test('ping, stats, registered; worker-online and heartbeats arrive', async () => {
      assert.deepEqual(await client.control.ping(to), [{ [node]: { ok: 'pong' } }]);
      const stats = (await client.control.inspect(to).stats())[node];
      assert.ok(stats && !('error' in stats), 'stats replied');
      if (!stats || 'error' in stats) return;
      assert.equal(stats.pool.maxConcurrency, 2);
      assert.equal(stats.pool.processes.length, 2, 'two prefork children');
      assert.equal(stats.broker.transport, broker.name);
      assert.deepEqual((await client.control.inspect(to).registered())[node], [
        'remote.add',
        'remote.block',
        'remote.now',
        'remote.wait',
      ]);
      await eventually(
        () => events.some((e) => e.type === 'worker-heartbeat' && e.hostname === node),
        'a heartbeat',
      );
    });

    test('the CLI: celeriac inspect ping prints the node', async () => {
      const out = await run(['-A', APP, 'inspect', 'ping', '-d', node, '-t', '5'], { env });
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, new RegExp(`->  ${node}: OK\\n {8}pong\\n\\n1 node online\\.`));
    });

    test('active lists a running task with its child pid; revoke --terminate (SIGKILL) stops it', async () => {
      const r = await client.sendTask('remote.block', [60]);
      await eventually(async () => {
        const active = (await client.control.inspect(to).active())[node];
        return Array.isArray(active) && active.some((t) => t.id === r.id);
      }, 'the task to be active');
      const active = (await client.control.inspect(to).active())[node];
      const stats = (await client.control.inspect(to).stats())[node];
      assert.ok(Array.isArray(active) && stats && !('error' in stats), 'replies');
      if (!Array.isArray(active) || !stats || 'error' in stats) return;
      const info = active.find((t) => t.id === r.id)!;
      assert.equal(info.type, 'remote.block');
      assert.deepEqual(info.args, [60]);
      assert.ok(
        info.workerPid !== null && stats.pool.processes.includes(info.workerPid),
        'runs in a child',
      );
      const started = Date.now();
      assert.deepEqual(
        await client.control.revoke(r.id, {
          terminate: true,
          signal: 'SIGKILL',
          reply: true,
          ...to,
        }),
        [{ [node]: { ok: `terminate: ${r.id}` } }],
      );
      await assert.rejects(r.get({ timeout: 20 }), /terminated/);
      assert.ok(Date.now() - started < 10_000, 'stopped long before the task would have ended');
      await eventually(
        () =>
          events.some(
            (e) =>
              e.type === 'task-revoked' &&
              e.group === 'task' &&
              e.uuid === r.id &&
              e.terminated === true &&
              e.signum === 9,
          ),
        'task-revoked, terminated by signal 9',
      );
      assert.deepEqual(
        await client.control.ping(to),
        [{ [node]: { ok: 'pong' } }],
        'the worker lives on',
      );
    });

    test('celeriac control revoke <id> --terminate (SIGTERM) of a task that ignores its signal: killed after the grace period', async () => {
      const r = await client.sendTask('remote.block', [60]);
      await eventually(() => taskEvents(r.id).includes('task-started'), 'task-started');
      const started = Date.now();
      const out = await run(
        ['-A', APP, 'control', 'revoke', r.id, '--terminate', '-d', node, '-t', '5'],
        { env },
      );
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, new RegExp(`->  ${node}: OK\\n {8}terminate: ${r.id}`));
      await assert.rejects(r.get({ timeout: 20 }), /terminated/);
      assert.ok(Date.now() - started < 10_000, 'ended within the grace period, not after 60 s');
      await eventually(
        () =>
          events.some(
            (e) =>
              e.type === 'task-revoked' && e.group === 'task' && e.uuid === r.id && e.signum === 15,
          ),
        'task-revoked, terminated by signal 15',
      );
    });

    test('celeriac control: --terminate only goes with revoke, --signal only with --terminate', async () => {
      const wrong = await run(
        ['-A', APP, 'control', 'rate_limit', 'remote.add', '1/s', '--terminate'],
        {
          env,
        },
      );
      assert.equal(wrong.code, 2);
      assert.match(wrong.stderr, /--terminate and --signal go with 'revoke' only/);
      const bare = await run(['-A', APP, 'control', 'revoke', 'x', '--signal', 'SIGKILL'], { env });
      assert.equal(bare.code, 2);
      assert.match(bare.stderr, /--signal needs --terminate/);
    });

    test('time_limit set at run time applies to the next task', async () => {
      assert.deepEqual(
        await client.control.timeLimit('remote.block', { hard: 1 }, { reply: true, ...to }),
        [{ [node]: { ok: 'time limits set successfully' } }],
      );
      const r = await client.sendTask('remote.block', [30]);
      await assert.rejects(r.get({ timeout: 20 }), /TimeLimitExceeded|time limit/i);
      await client.control.timeLimit('remote.block', { hard: null }, { reply: true, ...to });
      assert.equal(await (await client.sendTask('remote.block', [0.1])).get({ timeout: 20 }), 0.1);
    });

    test('rate_limit set at run time spaces the next tasks; removing it lets them run at once', async () => {
      assert.deepEqual(
        await client.control.rateLimit('remote.now', '30/m', { reply: true, ...to }),
        [{ [node]: { ok: 'new rate limit set successfully' } }],
      );
      const limited = await Promise.all([0, 1, 2].map(() => client.sendTask('remote.now')));
      const times = (await Promise.all(limited.map((r) => r.get({ timeout: 30 })))) as number[];
      times.sort((a, b) => a - b);
      assert.ok(
        times[2]! - times[0]! >= 3000,
        `30/m: three starts span ${times[2]! - times[0]!} ms (>= 2 intervals of 2 s)`,
      );
      await client.control.rateLimit('remote.now', null, { reply: true, ...to });
      const free = await Promise.all([0, 1, 2].map(() => client.sendTask('remote.now')));
      const freeTimes = (await Promise.all(free.map((r) => r.get({ timeout: 30 })))) as number[];
      freeTimes.sort((a, b) => a - b);
      assert.ok(freeTimes[2]! - freeTimes[0]! < 1500, 'no limit: no spacing');
    });

    test('task events with Python field sets; disable_events stops them, enable_events brings them back', async () => {
      const r = await client.sendTask('remote.add', [2, 3]);
      assert.equal(await r.get({ timeout: 20 }), 5);
      await eventually(() => taskEvents(r.id).includes('task-succeeded'), 'task-succeeded');
      assert.deepEqual(taskEvents(r.id), ['task-received', 'task-started', 'task-succeeded']);
      assert.deepEqual(await client.control.disableEvents({ reply: true, ...to }), [
        { [node]: { ok: 'task events disabled' } },
      ]);
      const quiet = await client.sendTask('remote.add', [1, 1]);
      await quiet.get({ timeout: 20 });
      assert.deepEqual(await client.control.enableEvents({ reply: true, ...to }), [
        { [node]: { ok: 'task events enabled' } },
      ]);
      const loud = await client.sendTask('remote.add', [2, 2]);
      await loud.get({ timeout: 20 });
      await eventually(() => taskEvents(loud.id).includes('task-succeeded'), 'events again');
      assert.deepEqual(taskEvents(quiet.id), [], 'nothing while disabled');
    });

    test('add_consumer / cancel_consumer: a new queue is served, then no longer', async () => {
      const queue = `extra-${broker.name}`;
      const queues = async (): Promise<string[]> => {
        const reply = (await client.control.inspect(to).activeQueues())[node];
        return Array.isArray(reply) ? reply.map((q) => q.name) : [];
      };
      assert.deepEqual(await client.control.addConsumer(queue, { reply: true, ...to }), [
        { [node]: { ok: `add consumer ${queue}` } },
      ]);
      assert.deepEqual((await queues()).sort(), ['celery', queue].sort());
      const served = await client.sendTask('remote.add', [2, 3], {}, { queue });
      assert.equal(await served.get({ timeout: 20 }), 5);
      assert.deepEqual(await client.control.cancelConsumer(queue, { reply: true, ...to }), [
        { [node]: { ok: `no longer consuming from ${queue}` } },
      ]);
      assert.deepEqual(await queues(), ['celery']);
      const waiting = await client.sendTask('remote.add', [1, 1], {}, { queue });
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await waiting.state(), 'PENDING', 'not consumed after cancel_consumer');
      assert.equal(await (await client.connection()).size(queue), 1, 'still in its queue');
      await (await client.connection()).purge(queue);
    });

    test('pool_grow / pool_shrink: prefork children are started and retired', async () => {
      const children = async (): Promise<number[]> => {
        const stats = (await client.control.inspect(to).stats())[node];
        return stats && !('error' in stats) ? stats.pool.processes : [];
      };
      const before = await children();
      assert.equal(before.length, 2);
      assert.deepEqual(await client.control.poolGrow(1, { reply: true, ...to }), [
        { [node]: { ok: 'pool will grow' } },
      ]);
      await eventually(async () => (await children()).length === 3, 'a third child');
      const grown = await client.control.inspect(to).stats();
      const g = grown[node];
      assert.ok(g && !('error' in g) && g.pool.maxConcurrency === 3, 'max-concurrency 3');
      assert.deepEqual(await client.control.poolShrink(1, { reply: true, ...to }), [
        { [node]: { ok: 'pool will shrink' } },
      ]);
      await eventually(async () => (await children()).length === 2, 'back to two children');
      assert.equal(await (await client.sendTask('remote.add', [4, 4])).get({ timeout: 20 }), 8);
    });

    test('pool_restart replaces the prefork children (worker_pool_restarts on)', async () => {
      const pids = async (): Promise<number[]> => {
        const stats = (await client.control.inspect(to).stats())[node];
        return stats && !('error' in stats) ? stats.pool.processes : [];
      };
      const before = await pids();
      assert.equal(before.length, 2);
      assert.deepEqual(await client.control.poolRestart({ reply: true, ...to }), [
        { [node]: { ok: 'reload started' } },
      ]);
      await eventually(async () => {
        const now = await pids();
        return now.length === 2 && now.every((p) => !before.includes(p));
      }, 'two new children');
      assert.equal(await (await client.sendTask('remote.add', [1, 2])).get({ timeout: 20 }), 3);
    });

    test('shutdown: no reply, the worker process exits cleanly, worker-offline is sent', async () => {
      assert.deepEqual(
        await client.control.shutdown({ reply: true, destination: [node], timeout: 1 }),
        [],
      );
      assert.equal(await worker.exited, 0);
      await eventually(
        () => events.some((e) => e.type === 'worker-offline' && e.hostname === node),
        'worker-offline',
      );
    });
  });
}
