/**
 * Long ETAs through real worker processes on Redis (issue 4's acceptance: "Long ETA (longer
 * than the visibility timeout, shortened for the test): the task runs once"). Two celeriac
 * workers share `celery` with brokerTransportOptions.visibilityTimeout = 2 s (so restore
 * passes run every 0.5 s): tasks due in 4 to 6 s wait in celeriac's due-time store, not in
 * `unacked`, and each runs exactly once, on time. A task that runs longer than the visibility
 * timeout is not restored under its worker's feet either (touches keep it).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Celery } from '../../src/index.js';
import { encodeEnvelope, unackedValue } from '../../src/protocol/kombu-envelope.js';
import { encodeTaskMessage, newTaskMessage } from '../../src/protocol/task-message.js';
import { ROOT, sandbox, startWorker, type WorkerProcess } from '../e2e/cli-helpers.js';
import { redisServerPath, startRedis, type RedisServer } from '../support/servers.js';
import { readRunLog } from '../support/run-log.js';

const APP = join(ROOT, 'test', 'fixtures', 'apps', 'interop.ts');
const VISIBILITY_TIMEOUT = 2;
const skip = !process.env.CI && !redisServerPath() ? 'redis-server is not installed' : false;

interface Run {
  id: string;
  pid: number;
  at: number;
}

void describe(
  'ETAs longer than the visibility timeout through celeriac workers on Redis',
  { skip },
  () => {
    const box = sandbox();
    const runLog = join(box.dir, 'runs.jsonl');
    let redis: RedisServer;
    let raw: Redis;
    let client: Celery;
    const workers: WorkerProcess[] = [];

    const runs = (): Run[] => readRunLog<Run>(runLog);

    before(async () => {
      redis = await startRedis({ private: true, appendonly: false });
      raw = new Redis(redis.url);
      const env = {
        ...box.env,
        CELERY_BROKER_URL: redis.url,
        CELERY_RESULT_BACKEND: redis.url,
        RUN_LOG: runLog,
        INTEROP_CONF_JSON: JSON.stringify({
          taskAcksLate: true,
          brokerTransportOptions: { visibilityTimeout: VISIBILITY_TIMEOUT },
        }),
      };
      for (const name of ['eta-a', 'eta-b']) {
        workers.push(await startWorker(env, ['-c', '2', '-n', `${name}@%h`], APP));
      }
      client = new Celery('client', { broker: redis.url, backend: redis.url });
    });
    after(async () => {
      await Promise.all(workers.map((w) => w.stop('SIGKILL')));
      await client?.close();
      raw?.disconnect();
      await redis?.stop();
      box.cleanup();
    });

    void test('the workers use the shortened visibility timeout: a stale unacked message is restored and run', async () => {
      // With kombu's default (3600 s) this message would sit in unacked for an hour.
      const id = 'a1a1a1a1-0000-4000-8000-000000000001';
      const envelope = encodeEnvelope(
        encodeTaskMessage(newTaskMessage({ id, task: 'tasks.add', args: [1, 1] })),
        { exchange: '', routingKey: 'celery', deliveryTag: `tag-${id}` },
      );
      await raw
        .multi()
        .hset('unacked', `tag-${id}`, unackedValue(envelope, '', 'celery'))
        .zadd('unacked_index', String(Date.now() / 1000 - 2 * VISIBILITY_TIMEOUT), `tag-${id}`)
        .exec();
      assert.equal(await client.AsyncResult(id).get({ timeout: 10 }), 2);
      assert.equal(runs().filter((r) => r.id === id).length, 1);
    });

    void test('each task due after 4-6 s (visibility timeout 2 s) runs exactly once, on time', async () => {
      const sentAt = Date.now();
      const etas = [4000, 5000, 6000].map((ms) => sentAt + ms);
      const results = await Promise.all(
        etas.map((eta, i) => client.sendTask('tasks.add', [i, 100], {}, { eta })),
      );
      // A long task on top: it runs for twice the visibility timeout.
      const long = await client.sendTask('tasks.sleep', [2 * VISIBILITY_TIMEOUT]);
      const all = [...results, long];
      const output = (): string => workers.map((w) => w.output()).join('\n');

      // While they wait they are in the due-time store, not in `unacked`: no restore pass can
      // hand them out early or twice.
      const deadline = Date.now() + 3000;
      while ((await raw.zcard('celeriac.delayed')) < etas.length) {
        assert.ok(Date.now() < deadline, `not deferred:\n${output()}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      await new Promise((r) => setTimeout(r, VISIBILITY_TIMEOUT * 1000 + 500)); // restore passes ran
      assert.equal(
        await raw.zcard('celeriac.delayed'),
        etas.length,
        'still waiting, none promoted early',
      );
      const held = await raw.hvals('unacked');
      for (const r of results) {
        assert.ok(
          !held.some((v) => v.includes(r.id)),
          `${r.id} is not held in unacked while it waits`,
        );
      }

      const values = await Promise.all(all.map((r) => r.get({ timeout: 30 })));
      assert.deepEqual(values, [100, 101, 102, 2 * VISIBILITY_TIMEOUT]);

      const log = runs();
      for (const [i, r] of all.entries()) {
        const mine = log.filter((x) => x.id === r.id);
        assert.equal(mine.length, 1, `${r.id} ran exactly once (ran ${mine.length} times)`);
        if (i < etas.length) {
          const late = mine[0]!.at - etas[i]!;
          assert.ok(late >= 0, `${r.id} ran ${-late} ms before its eta`);
          assert.ok(late < 1000, `${r.id} ran ${late} ms after its eta`);
          const deferrals = output().match(new RegExp(`${r.id}\\] received \\(eta`, 'g')) ?? [];
          assert.equal(
            deferrals.length,
            1,
            `${r.id} was handed out for its eta once, not redelivered`,
          );
        }
      }
      assert.doesNotMatch(output(), /redelivered|Restored/i);
      assert.equal(await raw.zcard('celeriac.delayed'), 0);
      assert.equal(await raw.hlen('celeriac.delayed.messages'), 0);
      assert.equal(await raw.hlen('celeriac.redeliveries'), 0, 'no restore or requeue counted');
      const ackDeadline = Date.now() + 5000;
      while ((await raw.hlen('unacked')) > 0 && Date.now() < ackDeadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(await raw.hlen('unacked'), 0);
      assert.equal(await raw.llen('celery'), 0);
      for (const w of workers) assert.equal(w.child.exitCode, null);
    });
  },
);
