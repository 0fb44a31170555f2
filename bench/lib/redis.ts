/**
 * The benchmark's Redis: a fresh redis-server of its own (no persistence, temp dir, free
 * loopback port), an admin connection (FLUSHALL, INFO cpu / stats / commandstats), and the
 * physical ceiling from redis-benchmark.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '../../test/support/servers.js';

const run = promisify(execFile);

/** Where the systems under test find the benchmark's Redis. */
export interface RedisTarget {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  /** `redis://host:port/db`. */
  readonly url: string;
}

/** Counters read from INFO, to be subtracted: see {@link redisDelta}. */
export interface RedisCounters {
  /** used_cpu_user + used_cpu_sys, seconds. */
  readonly cpu: number;
  /** total_commands_processed. */
  readonly commands: number;
  /** total_reads_processed: read events on client sockets ≈ round trips when clients do not pipeline. */
  readonly reads: number;
  /** Per-command calls from INFO commandstats (lower-case names; scripts' inner commands included). */
  readonly calls: Readonly<Record<string, number>>;
}

/** The difference of two {@link RedisCounters} readings. */
export interface RedisDelta extends RedisCounters {
  /** Calls of EVAL/EVALSHA/FCALL: each runs further commands inside Redis without a round trip. */
  readonly scriptCalls: number;
}

/** Starts a private redis-server (no AOF, no RDB) and opens the admin connection. */
export async function startBenchRedis(): Promise<{
  server: RedisServer;
  admin: RedisAdmin;
  target: RedisTarget;
}> {
  const server = await startRedis({ private: true, appendonly: false });
  const target: RedisTarget = {
    host: server.host,
    port: server.port,
    db: 0,
    url: `redis://${server.host}:${server.port}/0`,
  };
  const admin = new RedisAdmin(target);
  await admin.ping();
  return { server, admin, target };
}

function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

const SCRIPT_COMMANDS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);

/** An admin connection to the benchmark Redis (one ioredis client, separate from the systems'). */
export class RedisAdmin {
  readonly #redis: Redis;

  constructor(target: RedisTarget) {
    this.#redis = new Redis({
      host: target.host,
      port: target.port,
      db: target.db,
      lazyConnect: false,
      maxRetriesPerRequest: 3,
    });
  }

  /** Resolves once Redis answers. */
  async ping(): Promise<void> {
    await this.#redis.ping();
  }

  /** Empties every database: each measurement starts from nothing. */
  async flushAll(): Promise<void> {
    await this.#redis.flushall();
  }

  /** redis_version from INFO server. */
  async version(): Promise<string> {
    return parseInfo(await this.#redis.info('server')).get('redis_version') ?? '?';
  }

  /** Reads CPU, command and read counters. */
  async counters(): Promise<RedisCounters> {
    const info = parseInfo(await this.#redis.info('all'));
    const calls: Record<string, number> = {};
    for (const [k, v] of info) {
      if (!k.startsWith('cmdstat_')) continue;
      const m = /calls=(\d+)/.exec(v);
      if (m) calls[k.slice('cmdstat_'.length)] = Number(m[1]);
    }
    return {
      cpu: Number(info.get('used_cpu_user') ?? 0) + Number(info.get('used_cpu_sys') ?? 0),
      commands: Number(info.get('total_commands_processed') ?? 0),
      reads: Number(info.get('total_reads_processed') ?? 0),
      calls,
    };
  }

  /** Redis CPU seconds so far (cheaper than {@link counters}). */
  async cpuSeconds(): Promise<number> {
    const info = parseInfo(await this.#redis.info('cpu'));
    return Number(info.get('used_cpu_user') ?? 0) + Number(info.get('used_cpu_sys') ?? 0);
  }

  /**
   * How many of `keys` exist, in windows of 256 (EXISTS). Used to count stored Celery-format
   * results (`celery-task-meta-<id>`) while a worker drains.
   */
  async countExisting(keys: readonly string[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < keys.length; i += 256)
      n += await this.#redis.exists(...keys.slice(i, i + 256));
    return n;
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => undefined);
  }
}

/** after − before, with per-command calls and the number of script calls among them. */
export function redisDelta(before: RedisCounters, after: RedisCounters): RedisDelta {
  const calls: Record<string, number> = {};
  let scriptCalls = 0;
  for (const [k, v] of Object.entries(after.calls)) {
    const d = v - (before.calls[k] ?? 0);
    if (d <= 0) continue;
    calls[k] = d;
    if (SCRIPT_COMMANDS.has(k)) scriptCalls += d;
  }
  return {
    cpu: after.cpu - before.cpu,
    commands: after.commands - before.commands,
    reads: after.reads - before.reads,
    calls,
    scriptCalls,
  };
}

/** One redis-benchmark figure. */
export interface CeilingResult {
  readonly test: string;
  readonly pipeline: number;
  readonly rps: number;
}

/**
 * redis-benchmark against the benchmark Redis (50 clients, 3-byte values), plain and with
 * `-P pipeline`: the most a client could get from this Redis on this machine.
 */
export async function redisCeiling(
  target: RedisTarget,
  requests: number,
  pipeline = 16,
): Promise<CeilingResult[]> {
  const out: CeilingResult[] = [];
  for (const p of [1, pipeline]) {
    const args = [
      '-h',
      target.host,
      '-p',
      String(target.port),
      '-q',
      '-n',
      String(requests),
      '-t',
      'set,get,lpush,rpop',
    ];
    if (p > 1) args.push('-P', String(p));
    const { stdout } = await run('redis-benchmark', args, { maxBuffer: 1 << 20 });
    // "SET: 98039.22 requests per second, p50=0.263 msec" (progress lines end with \r)
    for (const m of stdout.matchAll(/([A-Z]+): ([\d.]+) requests per second/g)) {
      out.push({ test: m[1]!, pipeline: p, rps: Number(m[2]) });
    }
  }
  return out;
}

/** True when the redis-benchmark binary is on PATH. */
export async function haveRedisBenchmark(): Promise<boolean> {
  try {
    await run('redis-benchmark', ['--version']);
    return true;
  } catch {
    return false;
  }
}
