/**
 * A real RabbitMQ broker for tests: private (its own epmd, node name, ports and data under a
 * temporary directory, nothing on the default ports), or the run's shared one.
 */
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { amqpAnswers, freePort, LOOPBACK, waitUntil } from './net.js';
import { findExecutable, spawnManaged } from './process.js';
import type { ManagedProcess } from './process.js';

/** Environment variable holding the shared broker's URL (`amqp://guest:guest@127.0.0.1:PORT//`), set by scripts/test.sh. */
export const SHARED_AMQP_ENV = 'CELERIAC_TEST_AMQP_URL';

/** Options of {@link startRabbitMQ}. */
export interface StartRabbitMQOptions {
  /** Start a broker of this test's own even when a shared one exists. */
  private?: boolean;
  /** Milliseconds to wait for the broker to accept AMQP connections (default 120000). */
  startTimeoutMs?: number;
}

/** A running RabbitMQ broker (user guest/guest, vhost "/"). */
export interface RabbitMQServer {
  /** `amqp://guest:guest@127.0.0.1:PORT//` (the trailing `/` is the vhost "/"). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** True for the run's shared broker (stop() then leaves it running). */
  readonly shared: boolean;
  /** Stops a private broker and removes its files; does nothing for the shared one. Idempotent. */
  stop: () => Promise<void>;
  /** Private broker only: its console output so far (the full log is in its temporary directory). */
  output?: () => string;
}

/** Path of RabbitMQ's own start script (not Debian's wrapper, which switches to the rabbitmq user), or `undefined`. */
export function rabbitmqServerPath(): string | undefined {
  const own = '/usr/lib/rabbitmq/bin/rabbitmq-server';
  try {
    accessSync(own, constants.X_OK);
    return own;
  } catch {
    return findExecutable('rabbitmq-server');
  }
}

/** True when a broker is at hand: the shared one, or RabbitMQ and Erlang's epmd to start one. */
export function rabbitmqAvailable(): boolean {
  return (
    Boolean(process.env[SHARED_AMQP_ENV]) ||
    (rabbitmqServerPath() !== undefined && epmdPath() !== undefined)
  );
}

function epmdPath(): string | undefined {
  return findExecutable('epmd', ['/usr/bin/epmd', '/usr/lib/erlang/bin/epmd']);
}

/**
 * Gives the test a RabbitMQ broker. With `CELERIAC_TEST_AMQP_URL` set (scripts/test.sh sets it)
 * and no `private: true`, that shared broker; otherwise a new one, which takes a few seconds to
 * boot, is killed on stop() and when this process exits.
 */
export async function startRabbitMQ(options: StartRabbitMQOptions = {}): Promise<RabbitMQServer> {
  const shared = process.env[SHARED_AMQP_ENV];
  if (shared && !options.private) {
    const parsed = new URL(shared);
    return {
      url: shared,
      host: parsed.hostname,
      port: Number(parsed.port || 5672),
      shared: true,
      stop: async () => {},
    };
  }
  const server = rabbitmqServerPath();
  const epmd = epmdPath();
  if (!server || !epmd) {
    throw new Error(
      'rabbitmq-server or epmd not found: install RabbitMQ (apt-get install rabbitmq-server) or run the tests through scripts/test.sh, which installs it',
    );
  }
  const [port, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-rabbitmq-'));
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  process.on('exit', removeDir);
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(join(dir, 'rabbitmq.conf'), '# defaults: guest/guest from loopback only\n');

  // Our own epmd, so that nothing outlives the broker and the default port 4369 stays untouched.
  const epmdProc = spawnManaged(epmd, ['-port', String(epmdPort), '-address', LOOPBACK]);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: dir, // the Erlang cookie goes here
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: LOOPBACK,
    RABBITMQ_NODENAME: `celeriac-test-${port}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: LOOPBACK,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'), // absent: ignore /etc/rabbitmq's
    RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    // Makes the start script exec the Erlang VM instead of forking it, so that the pid we hold
    // (and the parent-death signal) is the broker's own.
    detached: '1',
  };
  const proc: ManagedProcess = spawnManaged(server, [], { env, stopTimeoutMs: 30_000 });
  const cleanup = async (): Promise<void> => {
    await proc.stop();
    await epmdProc.stop();
    removeDir();
    process.removeListener('exit', removeDir);
  };
  try {
    await waitUntil(() => amqpAnswers(port), {
      timeoutMs: options.startTimeoutMs ?? 120_000,
      intervalMs: 200,
      describe: () => `rabbitmq-server on port ${port} (data in ${dir}):\n${proc.output()}`,
      gaveUp: () => {
        const e = proc.exited();
        return e ? `rabbitmq-server exited (${JSON.stringify(e)})` : undefined;
      },
    });
  } catch (err) {
    await cleanup();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    url: `amqp://guest:guest@${LOOPBACK}:${port}//`,
    host: LOOPBACK,
    port,
    shared: false,
    output: () => proc.output(),
    stop() {
      stopped ??= cleanup();
      return stopped;
    },
  };
}
