/**
 * Smoke test of the benchmark harness (bench/): its statistics and table, and one very short
 * drain and steady run against BullMQ on a private Redis. Checks that the harness measures
 * correctly (results right, figures present), never how fast anything is.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bullmq } from '../../bench/adapters/bullmq.js';
import { RedisAdmin, type RedisTarget } from '../../bench/lib/redis.js';
import { drainScenario, steadyScenario, type ScenarioEnv } from '../../bench/lib/scenarios.js';
import {
  advantage,
  fmtSummary,
  latencySummary,
  quantile,
  summarize,
} from '../../bench/lib/stats.js';
import {
  buildTable,
  renderMarkdown,
  renderText,
  type SystemResult,
} from '../../bench/lib/table.js';
import { parseCpuLine } from '../../bench/lib/proc.js';
import { WorkerGroup } from '../../bench/lib/workers.js';
import { startRedis, type RedisServer } from '../support/servers.js';

describe('bench statistics', () => {
  test('nearest-rank quantiles, medians and spreads', () => {
    const s = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(quantile(s, 0.5), 50);
    assert.equal(quantile(s, 0.9), 90);
    assert.equal(quantile(s, 0.99), 99);
    assert.ok(Number.isNaN(quantile([], 0.5)));
    assert.deepEqual(summarize([3, 1, 2, NaN]), { n: 3, median: 2, min: 1, max: 3, q1: 1, q3: 3 });
    assert.equal(summarize([4, 1, 3, 2]).median, 2.5);
    assert.equal(fmtSummary(summarize([900, 1100, 1000]), 0), '1000 [900–1100]');
    assert.equal(fmtSummary(summarize([]), 0), '–');
    const lat = latencySummary([5, 1, 4, 2, 3]);
    assert.equal(lat.p50, 3);
    assert.equal(lat.max, 5);
    assert.equal(lat.mean, 3);
  });

  test("/proc/stat's cpu line is read by position (steal is the 8th number)", () => {
    const stat =
      'cpu  57328 0 10800 304232 609 0 3308 6395 0 0\ncpu0 28000 0 5400 152000 300 0 1600 3200 0 0\nintr 1\n';
    const f = parseCpuLine(stat);
    assert.equal(f[7], 6395); // the aggregate line, not cpu0's
    assert.equal(f[0], 57328);
    assert.deepEqual(parseCpuLine('intr 1\n'), []);
  });

  test('advantage is > 1 when celeriac is better, whichever way is better', () => {
    assert.equal(advantage(2000, 1000, 'higher'), 2);
    assert.equal(advantage(1, 4, 'lower'), 4);
    assert.equal(advantage(4, 1, 'lower'), 0.25);
    assert.ok(Number.isNaN(advantage(NaN, 1, 'higher')));
    assert.ok(Number.isNaN(advantage(1, 0, 'lower')));
  });

  test('the table has a column per system that ran and a ratio per peer', () => {
    const sys = (id: string, rate: number, notRunnable?: string): SystemResult => ({
      id,
      label: id,
      description: '',
      versions: {},
      ...(notRunnable ? { notRunnable } : {}),
      records: [1, 2, 3].map(
        (rep) => ({ kind: 'enqueue', mode: 'one', n: 10, secs: 1, rate: rate * rep, rep }) as const,
      ),
      errors: [],
    });
    const t = buildTable([
      sys('celeriac', 200),
      sys('bullmq', 100),
      sys('celery-py', 1, 'no python'),
    ]);
    assert.deepEqual(t.head, ['figure', 'celeriac', 'bullmq', 'vs bullmq']);
    assert.deepEqual(t.rows, [
      ['enqueue, one by one (tasks/s)', '400 [200–600]', '200 [100–300]', '2.00×'],
    ]);
    assert.match(renderText(t), /^figure +celeriac +bullmq +vs bullmq\n-+/);
    assert.match(
      renderMarkdown(t),
      /^\| figure \| celeriac \| bullmq \| vs bullmq \|\n\| --- \| ---: \| ---: \| ---: \|/,
    );
  });
});

describe('bench scenarios against BullMQ', () => {
  let redis: RedisServer;
  let admin: RedisAdmin;
  let env: ScenarioEnv;
  let dataDir: string;

  before(async () => {
    redis = await startRedis({ private: true, appendonly: false });
    const target: RedisTarget = {
      host: redis.host,
      port: redis.port,
      db: 0,
      url: `redis://${redis.host}:${redis.port}/0`,
    };
    admin = new RedisAdmin(target);
    dataDir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
    env = {
      adapter: bullmq,
      target: { redis: target, dataDir, concurrency: 10 },
      admin,
      workers: new WorkerGroup(dataDir),
      opts: {
        n: 200,
        latN: 20,
        latWarmup: 5,
        idleWarmup: 3,
        scaleN: 200,
        pollMs: 20,
        timeoutMs: 30_000,
        window: 100,
        batch: 100,
      },
      log: () => {},
    };
  });

  after(async () => {
    await admin?.close();
    await redis?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('drain: every queued task completes with the right result, CPU and memory are measured', async () => {
    const r = await drainScenario(env, 1);
    assert.equal(r.n, 200);
    assert.equal(r.bad, 0);
    assert.equal(r.verified, 20);
    assert.ok(r.rate > 0 && r.rateInclStartup > 0, `rates ${r.rate} ${r.rateInclStartup}`);
    assert.ok(r.peakRssMB > 10, `peak RSS ${r.peakRssMB} MB`);
    assert.ok(Number.isFinite(r.workerCpuUs) && Number.isFinite(r.redisCpuUs));
    assert.ok(r.stealPct >= 0 && r.stealPct <= 100, `steal ${r.stealPct} %`);
  });

  test('steady: latency percentiles, idle memory, Redis work per task and end-to-end', async () => {
    const r = await steadyScenario(env);
    assert.equal(r.latency.n, 20);
    assert.ok(r.latency.p50 > 0 && r.latency.p50 <= r.latency.p99);
    assert.ok(r.latencyStealPct >= 0 && r.latencyStealPct <= 100, `${r.latencyStealPct} %`);
    assert.ok(r.idleRssMB > 10);
    assert.equal(r.e2e.bad, 0);
    assert.ok(r.redisPerTask && r.redisPerTask.scriptCalls >= 1, JSON.stringify(r.redisPerTask));
    assert.ok(r.redisPerTask.reads >= 1, JSON.stringify(r.redisPerTask));
  });
});
