/**
 * The scenarios, the same for every system: enqueue, drain (1 or k worker processes) and
 * steady (ready time, idle memory, sequential latency with Redis work per task, end-to-end).
 * Each call is one measurement on an emptied Redis and a fresh data directory.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CORES,
  RssSampler,
  cpuSeconds,
  machineBusySeconds,
  machineStealSeconds,
  selfCpuSeconds,
  treeMemory,
  treePids,
  stealPct,
} from './proc.js';
import { redisDelta, type RedisAdmin, type RedisCounters, type RedisDelta } from './redis.js';
import { latencySummary, type LatencySummary } from './stats.js';
import type { EnqueueMode, LoopOptions, Producer, SystemAdapter, Target } from './types.js';
import type { WorkerGroup, WorkerProcess } from './workers.js';

/** Sizes and limits of the scenarios (from the CLI). */
export interface ScenarioOptions extends LoopOptions {
  /** Tasks per enqueue / drain / end-to-end measurement. */
  readonly n: number;
  /** Tasks per drain of the scaling pair (one worker, then k). */
  readonly scaleN: number;
  /** Timed sequential round trips, after `latWarmup` untimed ones. */
  readonly latN: number;
  readonly latWarmup: number;
  /** Untimed round trips before the idle-memory reading (the worker has run some tasks). */
  readonly idleWarmup: number;
  /** Drain completion polled this often. */
  readonly pollMs: number;
  /** Any one wait gives up after this. */
  readonly timeoutMs: number;
}

/** What a scenario needs from the run. */
export interface ScenarioEnv {
  readonly adapter: SystemAdapter;
  readonly target: Target;
  readonly admin: RedisAdmin;
  readonly workers: WorkerGroup;
  readonly opts: ScenarioOptions;
  /** Progress output (stderr). */
  readonly log: (msg: string) => void;
}

export interface EnqueueRecord {
  readonly kind: 'enqueue';
  readonly mode: EnqueueMode;
  readonly n: number;
  readonly secs: number;
  readonly rate: number;
}

export interface DrainRecord {
  readonly kind: 'drain';
  readonly workers: number;
  /** From the scaling pair (1 and k workers on `scaleN` tasks), not the N-task drain. */
  readonly scale: boolean;
  readonly n: number;
  readonly enqueueMode: EnqueueMode;
  /** Seconds the fill took (no worker running yet): one more enqueue measurement of that mode. */
  readonly enqueueSecs: number;
  /** tasks/s from the first poll that saw a result to the last (worker start-up excluded). */
  readonly rate: number;
  /**
   * tasks/s over the middle half of the drain (from the poll that first counted N/4 results to
   * the one that first counted 3N/4): the workers' start-up and JIT warm-up left out, and the
   * counters' lag (FIFO-ish counting) the same at both ends, so that it cancels.
   */
  readonly rateMiddle: number;
  /** Worker process trees' CPU per task over the middle half, µs. */
  readonly workerCpuUsMiddle: number;
  /** tasks/s from spawning the worker(s). */
  readonly rateInclStartup: number;
  readonly startupSecs: number;
  /** Worker process trees' CPU per task over the same window as `rate`, µs. */
  readonly workerCpuUs: number;
  /** redis-server CPU per task over that window, µs (NaN without Redis). */
  readonly redisCpuUs: number;
  /** Largest RSS sum of the worker trees, sampled every 100 ms. */
  readonly peakRssMB: number;
  /** CPU used by other processes on the machine during the window, % of all cores (noise). */
  readonly otherLoadPct: number;
  /** The VM's steal time during the window, % of all cores (a slowed host). */
  readonly stealPct: number;
  readonly verified: number;
  readonly bad: number;
}

/** Redis work per task during the sequential latency run, idle background subtracted. */
export interface RedisPerTask {
  /** Every command Redis executed, the ones inside Lua scripts and MULTI blocks too. */
  readonly commands: number;
  /** EVAL/EVALSHA/FCALL calls (each one round trip, several commands inside). */
  readonly scriptCalls: number;
  /** Read events on client sockets: ≈ round trips (a pipeline that arrives at once is one). */
  readonly reads: number;
  readonly byCommand: Readonly<Record<string, number>>;
}

export interface SteadyRecord {
  readonly kind: 'steady';
  /** From spawn until the first task's result was back. */
  readonly readySecs: number;
  readonly idleRssMB: number;
  readonly idlePssMB: number;
  readonly processes: number;
  readonly latency: LatencySummary;
  /** The VM's steal time during the timed round trips, % of all cores. */
  readonly latencyStealPct: number;
  readonly redisPerTask?: RedisPerTask;
  /** CPU per sequential round trip, µs: worker, producer (the waiting client) and Redis. */
  readonly latencyCpuUs: {
    readonly worker: number;
    readonly client: number;
    readonly redis: number;
  };
  readonly e2e: {
    readonly mode: EnqueueMode;
    readonly n: number;
    readonly secs: number;
    readonly sendSecs: number;
    readonly rate: number;
    readonly bad: number;
    readonly workerCpuUs: number;
    readonly redisCpuUs: number;
    readonly producerCpuUs: number;
    readonly peakRssMB: number;
    readonly otherLoadPct: number;
  };
}

export type ScenarioRecord = EnqueueRecord | DrainRecord | SteadyRecord;

const now = (): number => performance.now();
const usPerTask = (secs: number, n: number): number => (n > 0 ? (secs * 1e6) / n : NaN);

/** A target with a data directory of its own, on an emptied Redis. */
async function freshTarget(env: ScenarioEnv): Promise<Target> {
  await env.admin.flushAll();
  return { ...env.target, dataDir: mkdtempSync(join(env.target.dataDir, 'm-')) };
}

function failIfExited(env: ScenarioEnv, ws: readonly WorkerProcess[]): void {
  for (const w of ws) {
    const e = w.exited();
    if (e)
      throw new Error(
        `${env.adapter.label} worker exited (code ${e.code}, signal ${e.signal}); see ${w.logFile}`,
      );
  }
}

/** CPU seconds of the harness and the producer's own processes. */
function producerCpu(p: Producer): number {
  return selfCpuSeconds() + cpuSeconds(treePids(p.childPids));
}

/** N tasks sent with no worker running. */
export async function enqueueScenario(env: ScenarioEnv, mode: EnqueueMode): Promise<EnqueueRecord> {
  const target = await freshTarget(env);
  const p = await env.adapter.openProducer(target, env.opts);
  try {
    const { secs } = await p.enqueue(env.opts.n, mode);
    return { kind: 'enqueue', mode, n: env.opts.n, secs, rate: env.opts.n / secs };
  } finally {
    await p.close();
  }
}

/**
 * N tasks queued first, then `k` worker processes spawned; until all N results are stored.
 * `scale`: one of the scaling pair, on `opts.scaleN` tasks instead of N.
 */
export async function drainScenario(
  env: ScenarioEnv,
  k: number,
  scale = false,
): Promise<DrainRecord> {
  const { adapter, admin } = env;
  const opts = scale ? { ...env.opts, n: env.opts.scaleN } : env.opts;
  const useRedis = adapter.store === 'redis';
  const redisCpu = (): Promise<number> => (useRedis ? admin.cpuSeconds() : Promise.resolve(NaN));
  const target = await freshTarget(env);
  const p = await adapter.openProducer(target, opts);
  const ws: WorkerProcess[] = [];
  try {
    const mode = adapter.drainEnqueueMode;
    const { secs: enqueueSecs } = await p.enqueue(opts.n, mode);
    const t0 = now();
    for (let i = 0; i < k; i++)
      ws.push(env.workers.spawn(adapter.workerSpec(target, i), `${adapter.id}-w${i}`));
    const roots = ws.map((w) => w.pid);
    const sampler = new RssSampler(roots);
    let first:
      | {
          t: number;
          c: number;
          wCpu: number;
          rCpu: number;
          busy: number;
          steal: number;
          own: number;
        }
      | undefined;
    const marks: Array<{ t: number; c: number; wCpu: number }> = [];
    let done = 0;
    let tDone = 0;
    let peakRssMB = NaN;
    try {
      for (;;) {
        done = await p.completed();
        const t = now();
        if (done > 0 && !first) {
          first = {
            t,
            c: done,
            wCpu: cpuSeconds(treePids(roots)),
            rCpu: await redisCpu(),
            busy: machineBusySeconds(),
            steal: machineStealSeconds(),
            own: producerCpu(p),
          };
        }
        if (marks.length < 2 && done >= (opts.n * (marks.length === 0 ? 1 : 3)) / 4)
          marks.push({ t, c: done, wCpu: cpuSeconds(treePids(roots)) });
        if (done >= opts.n) {
          tDone = t;
          break;
        }
        failIfExited(env, ws);
        if (t - t0 > opts.timeoutMs)
          throw new Error(
            `drain: ${done}/${opts.n} results after ${((t - t0) / 1000).toFixed(0)} s`,
          );
        await sleep(opts.pollMs);
      }
    } finally {
      peakRssMB = sampler.stop();
    }
    const wCpu = cpuSeconds(treePids(roots)) - first!.wCpu;
    const rCpu = (await redisCpu()) - first!.rCpu;
    const busy = machineBusySeconds() - first!.busy;
    const steal = first!.steal;
    const own = producerCpu(p) - first!.own;
    const window = (tDone - first!.t) / 1000;
    const tasks = opts.n - first!.c;
    const [q1, q3] = marks;
    const middle =
      q1 && q3 && q3.c > q1.c ? { secs: (q3.t - q1.t) / 1000, tasks: q3.c - q1.c } : undefined;
    const check = await p.verify(20);
    return {
      kind: 'drain',
      workers: k,
      scale,
      n: opts.n,
      enqueueMode: mode,
      enqueueSecs,
      rate: window > 0 ? tasks / window : NaN,
      rateMiddle: middle && middle.secs > 0 ? middle.tasks / middle.secs : NaN,
      workerCpuUsMiddle: middle ? usPerTask(q3!.wCpu - q1!.wCpu, middle.tasks) : NaN,
      rateInclStartup: opts.n / ((tDone - t0) / 1000),
      startupSecs: (first!.t - t0) / 1000,
      workerCpuUs: usPerTask(wCpu, tasks),
      redisCpuUs: usPerTask(rCpu, tasks),
      peakRssMB,
      otherLoadPct:
        window > 0 ? (100 * Math.max(0, busy - wCpu - (rCpu || 0) - own)) / (CORES * window) : NaN,
      stealPct: stealPct(steal, window),
      verified: check.checked,
      bad: check.bad,
    };
  } finally {
    await Promise.all(ws.map((w) => env.workers.stop(w)));
    await p.close();
  }
}

/** Redis work per task over a window, minus what the idle system did at `idleRate` per second. */
function perTask(
  delta: RedisDelta,
  idle: RedisDelta,
  idleSecs: number,
  secs: number,
  tasks: number,
): RedisPerTask {
  const scale = secs / idleSecs;
  // The admin's own INFO calls are not the system's.
  const infos = (d: RedisDelta): number => d.calls.info ?? 0;
  const byCommand: Record<string, number> = {};
  for (const [cmd, calls] of Object.entries(delta.calls)) {
    if (cmd === 'info') continue;
    const x = (calls - (idle.calls[cmd] ?? 0) * scale) / tasks;
    if (x > 0.005) byCommand[cmd] = Number(x.toFixed(3));
  }
  const f = (d: RedisDelta, key: 'commands' | 'reads' | 'scriptCalls'): number =>
    d[key] - (key === 'scriptCalls' ? 0 : infos(d));
  return {
    commands: (f(delta, 'commands') - f(idle, 'commands') * scale) / tasks,
    scriptCalls: (f(delta, 'scriptCalls') - f(idle, 'scriptCalls') * scale) / tasks,
    reads: (f(delta, 'reads') - f(idle, 'reads') * scale) / tasks,
    byCommand,
  };
}

/**
 * One worker on an empty queue: ready time, idle memory 1 s later, sequential latency (and
 * the Redis work per task meanwhile), then end-to-end with the producer sending N while the
 * worker runs.
 */
export async function steadyScenario(env: ScenarioEnv): Promise<SteadyRecord> {
  const { adapter, opts, admin } = env;
  const useRedis = adapter.store === 'redis';
  const counters = (): Promise<RedisCounters | undefined> =>
    useRedis ? admin.counters() : Promise.resolve(undefined);
  const target = await freshTarget(env);
  const w = env.workers.spawn(adapter.workerSpec(target, 0), `${adapter.id}-w0`);
  let p: Producer | undefined;
  try {
    p = await adapter.openProducer(target, opts);
    await Promise.race([
      p.probe(60_000),
      (async () => {
        while (!w.exited()) await sleep(100);
        failIfExited(env, [w]);
      })(),
    ]);
    const readySecs = (now() - w.startedAt) / 1000;
    await p.latency(opts.idleWarmup, 0, opts.timeoutMs);

    const c0 = await counters();
    const tIdle = now();
    await sleep(1000);
    const mem = treeMemory([w.pid]);
    const c1 = await counters();
    const idleSecs = (now() - tIdle) / 1000;
    // A round trip runs a few dozen functions once each: until V8 has optimised them (a few
    // thousand calls), the figures measure its tiers, not the steady state a worker lives in.
    await p.latency(opts.latWarmup, 0, opts.timeoutMs);
    const cLat = await counters();
    const latRoots = treePids([w.pid]);
    const latW0 = cpuSeconds(latRoots);
    const latR0 = useRedis ? await admin.cpuSeconds() : NaN;
    const latP0 = producerCpu(p);
    const steal0 = machineStealSeconds();
    const tLat = now();
    const lat = await p.latency(opts.latN, 0, opts.timeoutMs);
    const latSecs = (now() - tLat) / 1000;
    const latencyStealPct = stealPct(steal0, latSecs);
    const latencyCpuUs = {
      worker: usPerTask(cpuSeconds(latRoots) - latW0, opts.latN),
      client: usPerTask(producerCpu(p) - latP0, opts.latN),
      redis: useRedis ? usPerTask((await admin.cpuSeconds()) - latR0, opts.latN) : NaN,
    };
    const c2 = await counters();
    const redisPerTask =
      c0 && c1 && cLat && c2
        ? perTask(redisDelta(cLat, c2), redisDelta(c0, c1), idleSecs, latSecs, opts.latN)
        : undefined;

    failIfExited(env, [w]);
    const roots = treePids([w.pid]);
    const cpuW0 = cpuSeconds(roots);
    const cpuR0 = useRedis ? await admin.cpuSeconds() : NaN;
    const own0 = producerCpu(p);
    const busy0 = machineBusySeconds();
    const sampler = new RssSampler([w.pid]);
    let peakRssMB = NaN;
    let r: { secs: number; sendSecs: number; bad: number };
    try {
      r = await p.endToEnd(opts.n, adapter.endToEndMode, opts.timeoutMs);
    } finally {
      peakRssMB = sampler.stop();
    }
    const cpuW = cpuSeconds(treePids([w.pid])) - cpuW0;
    const cpuR = useRedis ? (await admin.cpuSeconds()) - cpuR0 : NaN;
    const own = producerCpu(p) - own0;
    const busy = machineBusySeconds() - busy0;
    return {
      kind: 'steady',
      readySecs,
      idleRssMB: mem.rssMB,
      idlePssMB: mem.pssMB,
      processes: mem.processes,
      latency: latencySummary(lat),
      latencyStealPct,
      latencyCpuUs,
      ...(redisPerTask ? { redisPerTask } : {}),
      e2e: {
        mode: adapter.endToEndMode,
        n: opts.n,
        secs: r.secs,
        sendSecs: r.sendSecs,
        rate: opts.n / r.secs,
        bad: r.bad,
        workerCpuUs: usPerTask(cpuW, opts.n),
        redisCpuUs: usPerTask(cpuR, opts.n),
        producerCpuUs: usPerTask(own, opts.n),
        peakRssMB,
        otherLoadPct: (100 * Math.max(0, busy - cpuW - (cpuR || 0) - own)) / (CORES * r.secs),
      },
    };
  } finally {
    await p?.close();
    await env.workers.stop(w);
  }
}
