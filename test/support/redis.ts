/** A real redis-server for tests: private on a free loopback port, or the run's shared one. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, LOOPBACK, redisPings, tcpExchange, waitUntil } from './net.js';
import { findExecutable, spawnManaged } from './process.js';
import type { ManagedProcess } from './process.js';

/** Environment variable holding the shared server's URL (`redis://127.0.0.1:PORT`), set by scripts/test.sh. */
export const SHARED_REDIS_ENV = 'CELERIAC_TEST_REDIS_URL';

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /** Start a server of this test's own even when a shared one exists (needed to restart or stop it). */
  private?: boolean;
  /** Database number put in `url` (default 0). */
  db?: number;
  /** FLUSHALL before returning (useful on the shared server; a private one starts empty). */
  flush?: boolean;
  /** Private server only: `--appendonly yes`, so that restart() keeps the data (default true). */
  appendonly?: boolean;
  /** Private server only: more redis-server arguments, e.g. `['--maxmemory', '10mb']`. */
  args?: readonly string[];
}

/** A running Redis server. */
export interface RedisServer {
  /** `redis://127.0.0.1:PORT/DB`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly db: number;
  /** True for the run's shared server (stop() then leaves it running). */
  readonly shared: boolean;
  /** Stops a private server and removes its files; does nothing for the shared one. Idempotent. */
  stop: () => Promise<void>;
  /**
   * Private server only: stops it (SIGTERM, so the AOF is written) and starts it again on the
   * same port and files. `whileDown` runs in between (an outage as long as it takes); the
   * server is started again even when it throws, and its error is rethrown after.
   */
  restart?: (whileDown?: () => Promise<void>) => Promise<void>;
  /** Private server only: the server's log so far. */
  output?: () => string;
}

/** Path of redis-server (PATH first, then /usr/bin), or `undefined`. */
export function redisServerPath(): string | undefined {
  return findExecutable('redis-server', ['/usr/bin/redis-server']);
}

/** True when a Redis is at hand: the shared one, or a redis-server binary to start. */
export function redisAvailable(): boolean {
  return Boolean(process.env[SHARED_REDIS_ENV]) || redisServerPath() !== undefined;
}

/**
 * Gives the test a Redis server. With `CELERIAC_TEST_REDIS_URL` set (scripts/test.sh sets it)
 * and no `private: true`, that shared server; otherwise a new redis-server on a free loopback
 * port with a temporary directory, killed on stop() and when this process exits.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const db = options.db ?? 0;
  const shared = process.env[SHARED_REDIS_ENV];
  const server =
    shared && !options.private ? sharedRedis(shared, db) : await privateRedis(options, db);
  if (options.flush) await flushAll(server.port);
  return server;
}

function sharedRedis(envUrl: string, db: number): RedisServer {
  const parsed = new URL(envUrl);
  const port = Number(parsed.port || 6379);
  const host = parsed.hostname || LOOPBACK;
  return {
    url: `redis://${host}:${port}/${db}`,
    host,
    port,
    db,
    shared: true,
    stop: async () => {},
  };
}

async function privateRedis(options: StartRedisOptions, db: number): Promise<RedisServer> {
  const bin = redisServerPath();
  if (!bin) {
    throw new Error(
      'redis-server not found on PATH or in /usr/bin: install it (apt-get install redis-server) or run the tests through scripts/test.sh, which installs it',
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-redis-'));
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  process.on('exit', removeDir);
  const appendonly = options.appendonly ?? true;
  const launch = (port: number): Promise<ManagedProcess> =>
    launchRedis(bin, port, dir, appendonly, options.args ?? []);

  let port = 0;
  let proc: ManagedProcess | undefined;
  for (let attempt = 1; !proc; attempt++) {
    port = await freePort();
    try {
      proc = await launch(port);
    } catch (err) {
      // Another process may have taken the port between freePort() and the bind: try another.
      if (attempt >= 3 || !/Address already in use/i.test(String(err))) throw err;
    }
  }
  let current: ManagedProcess = proc;
  let stopped: Promise<void> | undefined;
  return {
    url: `redis://${LOOPBACK}:${port}/${db}`,
    host: LOOPBACK,
    port,
    db,
    shared: false,
    output: () => current.output(),
    stop() {
      stopped ??= current.stop().finally(() => {
        removeDir();
        process.removeListener('exit', removeDir);
      });
      return stopped;
    },
    async restart(whileDown) {
      if (stopped) throw new Error('restart() after stop(): start a new server instead');
      await current.stop();
      try {
        await whileDown?.();
      } finally {
        current = await launch(port);
      }
    },
  };
}

async function launchRedis(
  bin: string,
  port: number,
  dir: string,
  appendonly: boolean,
  extra: readonly string[],
): Promise<ManagedProcess> {
  const args = [
    '--port',
    String(port),
    '--bind',
    LOOPBACK,
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    appendonly ? 'yes' : 'no',
    '--appendfsync',
    'no',
    '--daemonize',
    'no',
    '--logfile',
    '',
    ...extra,
  ];
  const proc = spawnManaged(bin, args, { stopTimeoutMs: 10_000 });
  try {
    await waitUntil(() => redisPings(port), {
      timeoutMs: 20_000,
      describe: () => `redis-server on port ${port}: ${proc.commandLine}\n${proc.output()}`,
      gaveUp: () => {
        const e = proc.exited();
        return e ? `redis-server exited (${JSON.stringify(e)})` : undefined;
      },
    });
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return proc;
}

async function flushAll(port: number): Promise<void> {
  const reply = (await tcpExchange(port, 'FLUSHALL\r\n', 3, 5000)).toString('latin1');
  if (!reply.startsWith('+OK')) throw new Error(`FLUSHALL on port ${port} answered ${reply}`);
}
