/** Helpers shared by the adapters: worker environment, paths, counting Celery-format results. */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { Target, WorkerSpec } from '../lib/types.js';

/** bench/ */
export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The project root. */
export const ROOT = join(BENCH_DIR, '..');

const require = createRequire(join(ROOT, 'package.json'));

/** The installed version of an npm package (from its package.json), or '?'. */
export function packageVersion(name: string): string {
  try {
    const pkg: unknown = require(`${name}/package.json`);
    const v = (pkg as { version?: unknown }).version;
    return typeof v === 'string' ? v : '?';
  } catch {
    return '?';
  }
}

/** celeriac's own version (package.json of this tree). */
export function projectVersion(): string {
  const pkg: unknown = require(join(ROOT, 'package.json'));
  const v = (pkg as { version?: unknown }).version;
  return typeof v === 'string' ? v : '?';
}

/** The BENCH_* variables every worker process reads. */
export function workerEnv(target: Target, queue: string): Record<string, string> {
  return {
    BENCH_REDIS_HOST: target.redis.host,
    BENCH_REDIS_PORT: String(target.redis.port),
    BENCH_REDIS_DB: String(target.redis.db),
    BENCH_REDIS_URL: target.redis.url,
    BENCH_QUEUE: queue,
    BENCH_CONCURRENCY: String(target.concurrency),
    BENCH_DATA_DIR: target.dataDir,
  };
}

/** A plain-Node worker script under bench/workers/. */
export function nodeWorker(
  file: string,
  target: Target,
  queue: string,
  nodeArgs: readonly string[] = [],
): WorkerSpec {
  return {
    cmd: process.execPath,
    args: [...nodeArgs, join(BENCH_DIR, 'workers', file)],
    cwd: ROOT,
    env: workerEnv(target, queue),
  };
}

/**
 * Counts stored results `celery-task-meta-<id>` among a list of handles, resuming where the
 * last call on the same list stopped (results arrive about in order): EXISTS over windows of 256.
 */
export class CeleryResultCounter<H> {
  #handles: readonly H[] = [];
  #done = 0;
  readonly #redis: Redis;
  readonly #idOf: (h: H) => string;

  constructor(redis: Redis, idOf: (h: H) => string) {
    this.#redis = redis;
    this.#idOf = idOf;
  }

  async count(handles: readonly H[]): Promise<number> {
    if (handles !== this.#handles) {
      this.#handles = handles;
      this.#done = 0;
    }
    while (this.#done < handles.length) {
      const win = handles
        .slice(this.#done, this.#done + 256)
        .map((h) => `celery-task-meta-${this.#idOf(h)}`);
      const c = await this.#redis.exists(...win);
      if (c < win.length) return this.#done + c;
      this.#done += win.length;
    }
    return this.#done;
  }
}
