/**
 * Throughput of the pools on a trivial task (pool.add). Run:
 *   node --import tsx bench/pool-throughput.ts [N] [kinds...]      (default 20000; prefork threads event)
 * For each kind with concurrency 2: a pipelined burst (all N jobs submitted at once; the pool
 * queues them and each child runs one at a time) and a one-at-a-time round trip (latency bound).
 * CPU per task is printed too: it does not depend on how busy the machine is.
 */
import { readFileSync } from 'node:fs';
import { Logger } from '../src/util/logger.js';
import { createPool, isPoolKind, type PoolKind } from '../src/worker/pool/create.js';
import type { Pool } from '../src/worker/pool/types.js';
import { APP_SPEC, job } from '../test/fixtures/pool-app/jobs.js';

const N = Number(process.argv[2] ?? 20_000);
const kinds = process.argv.slice(3).filter(isPoolKind);
const logger = new Logger({ level: 'ERROR' });

async function bench(kind: PoolKind): Promise<void> {
  const app = (await import('../test/fixtures/pool-app/tasks.js')).app;
  const started = performance.now();
  const pool: Pool = createPool(kind, { concurrency: 2, appSpec: APP_SPEC, app, logger });
  await pool.start();
  const startMs = performance.now() - started;
  // Warm-up (JIT, first messages).
  await Promise.all(Array.from({ length: 2000 }, (_, i) => pool.run(job('pool.add', [i, 1]))));

  const cpu0 = process.cpuUsage();
  const child0 = childCpuMs(pool.pids);
  let t0 = performance.now();
  const outcomes = await Promise.all(
    Array.from({ length: N }, (_, i) => pool.run(job('pool.add', [i, 1]))),
  );
  const burst = N / ((performance.now() - t0) / 1000);
  const cpu = process.cpuUsage(cpu0);
  const parentUs = (cpu.user + cpu.system) / N;
  const childUs = ((childCpuMs(pool.pids) - child0) * 1000) / N;
  if (outcomes.some((o, i) => o.kind !== 'success' || o.value !== i + 1))
    throw new Error('wrong results');

  const M = Math.min(N, 5000);
  t0 = performance.now();
  for (let i = 0; i < M; i++) await pool.run(job('pool.add', [i, 1]));
  const sequential = M / ((performance.now() - t0) / 1000);
  await pool.close(1000);
  console.log(
    `${kind.padEnd(8)} start ${startMs.toFixed(0).padStart(5)} ms   pipelined ${burst.toFixed(0).padStart(6)} tasks/s ` +
      `(CPU per task: parent ${parentUs.toFixed(0)} µs, children ${childUs.toFixed(0)} µs)   ` +
      `one at a time ${sequential.toFixed(0).padStart(6)} tasks/s (${(1e6 / sequential) | 0} µs/task)`,
  );
}

/** CPU time used so far by these processes, ms (Linux /proc; 0 elsewhere). */
function childCpuMs(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      return 0;
    }
  }
  return ticks * 10; // USER_HZ = 100
}

for (const kind of kinds.length > 0 ? kinds : (['prefork', 'threads', 'event'] as const))
  await bench(kind);
