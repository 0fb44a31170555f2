/**
 * Python Celery, the reference peer, for interop tests: Debian's python3-celery run with
 * /usr/bin/python3 (the python3 first on PATH may be another build without Debian's packages).
 * The app is test/interop/py/pyapp.py; the client side is test/interop/py/pydriver.py.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnManaged } from './process.js';
import { redisAvailable } from './servers.js';

/** The interpreter that has Debian's Celery. */
export const PYTHON = '/usr/bin/python3';

/** Folder holding pyapp.py and pydriver.py (the Python worker's cwd). */
export const PY_DIR = fileURLToPath(new URL('../interop/py/', import.meta.url));

/** True when /usr/bin/python3 can import celery, redis, msgpack and yaml. */
export function pythonAvailable(): boolean {
  const r = spawnSync(PYTHON, ['-c', 'import celery, redis, msgpack, yaml'], {
    stdio: 'ignore',
    timeout: 30_000,
  });
  return r.status === 0;
}

/**
 * Why an interop test file (Redis + Python Celery) cannot run here, or false. In CI both are
 * installed by scripts/test.sh, so nothing is skipped there: a missing piece fails the tests.
 */
export function interopSkip(): string | false {
  if (process.env.CI) return false;
  if (!redisAvailable()) return 'redis-server is not installed';
  if (!pythonAvailable()) return '/usr/bin/python3 lacks celery';
  return false;
}

/** Broker and backend for the Python side. */
export interface PyEnv {
  /** CELERY_BROKER_URL, e.g. `redis://127.0.0.1:PORT/0`. */
  brokerUrl: string;
  /** CELERY_RESULT_BACKEND (default: the broker URL when it is Redis). */
  backendUrl?: string;
  /** Extra Celery settings for pyapp (PYAPP_CONF_JSON), e.g. `{ result_extended: true }`. */
  conf?: Record<string, unknown>;
  /** More environment variables. */
  env?: Record<string, string>;
}

function pyEnvironment(e: PyEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CELERY_BROKER_URL: e.brokerUrl,
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
    C_FORCE_ROOT: '1',
    ...e.env,
  };
  if (e.backendUrl) env.CELERY_RESULT_BACKEND = e.backendUrl;
  else delete env.CELERY_RESULT_BACKEND;
  if (e.conf) env.PYAPP_CONF_JSON = JSON.stringify(e.conf);
  else delete env.PYAPP_CONF_JSON;
  return env;
}

/**
 * Runs `/usr/bin/python3 test/interop/py/pydriver.py ...args` and returns the JSON it printed
 * last. Rejects with the driver's stderr when it exits non-zero, prints no JSON, or runs longer
 * than `timeoutMs` (default 60000). See pydriver.py for the commands and their output.
 */
export function runPyDriver(
  args: readonly string[],
  env: PyEnv,
  timeoutMs = 60_000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [`${PY_DIR}pydriver.py`, ...args], {
      cwd: PY_DIR,
      env: pyEnvironment(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    const what = `pydriver ${args.join(' ')}`;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} took longer than ${timeoutMs} ms. stderr:\n${err}`));
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${what}: could not run ${PYTHON}: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`${what} exited ${code ?? signal}. stderr:\n${err}\nstdout:\n${out}`));
        return;
      }
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`${what} printed no JSON. stdout:\n${out}\nstderr:\n${err}`));
      }
    });
  });
}

/** A long-running pydriver (`pydriver.py serve`): the same commands without Celery's start-up per call. */
export interface PyDriverSession {
  /** Runs one pydriver command (e.g. `['send', 'tasks.add', '--args', '[2, 3]']`) and returns its JSON. */
  readonly run: (args: readonly string[], timeoutMs?: number) => Promise<unknown>;
  /** Ends the session (closes its stdin; SIGKILL after 5 s). Idempotent. */
  readonly close: () => Promise<void>;
  /** The driver's stderr so far (Python tracebacks of failed commands). */
  readonly stderr: () => string;
}

/**
 * Starts `pydriver.py serve`. Commands run one at a time, in call order; a command that fails
 * rejects with the driver's error, and the session stays usable.
 */
export function openPyDriver(env: PyEnv): PyDriverSession {
  const child = spawn(PYTHON, [`${PY_DIR}pydriver.py`, 'serve'], {
    cwd: PY_DIR,
    env: pyEnvironment(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  let buf = '';
  let exited = false;
  const pending: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  const kill = (): void => {
    if (!exited) child.kill('SIGKILL');
  };
  process.on('exit', kill);
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString('utf8')).slice(-100_000)));
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      pending.shift()?.resolve(line);
    }
  });
  child.once('exit', (code, signal) => {
    exited = true;
    process.removeListener('exit', kill);
    for (const p of pending.splice(0)) {
      p.reject(new Error(`pydriver serve exited (${code ?? signal}). stderr:\n${err}`));
    }
  });
  child.once('error', (e) => {
    for (const p of pending.splice(0)) p.reject(new Error(`could not run ${PYTHON}: ${e.message}`));
  });
  // Only outstanding requests keep this process alive.
  const setRef = (on: boolean): void => {
    for (const h of [child, child.stdout, child.stderr, child.stdin] as unknown as {
      ref?: () => void;
      unref?: () => void;
    }[]) {
      if (on) h.ref?.();
      else h.unref?.();
    }
  };
  setRef(false);
  let queue: Promise<unknown> = Promise.resolve();
  let closing: Promise<void> | undefined;
  const runOne = async (args: readonly string[], timeoutMs: number): Promise<unknown> => {
    if (exited || closing) throw new Error('pydriver session is closed');
    setRef(true);
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          kill();
          reject(
            new Error(
              `pydriver ${args.join(' ')} took longer than ${timeoutMs} ms. stderr:\n${err}`,
            ),
          );
        }, timeoutMs);
        pending.push({
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.stdin.write(JSON.stringify({ argv: args }) + '\n');
      });
      const answer = JSON.parse(line) as { ok: boolean; result?: unknown; error?: string };
      if (!answer.ok) throw new Error(`pydriver ${args.join(' ')}: ${answer.error ?? '?'}`);
      return answer.result ?? null;
    } finally {
      setRef(pending.length > 0);
    }
  };
  return {
    run(args, timeoutMs = 60_000) {
      const next = queue.then(() => runOne(args, timeoutMs));
      queue = next.catch(() => undefined);
      return next;
    },
    close() {
      closing ??= (async () => {
        await queue;
        if (exited) return;
        setRef(true);
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.stdin.end();
        const timer = setTimeout(kill, 5000);
        await gone;
        clearTimeout(timer);
      })();
      return closing;
    },
    stderr: () => err,
  };
}

/** Options of {@link startPyWorker}. */
export interface PyWorkerOptions extends PyEnv {
  /** Queues to consume (`-Q`), default Celery's (`celery`). */
  queues?: readonly string[];
  /** Pool processes (`-c`), default 1. */
  concurrency?: number;
  /** Node name (`-n`), default `py-<random>@localhost`. */
  hostname?: string;
  /** Pool (`-P`), default prefork (Celery's default). */
  pool?: 'prefork' | 'solo' | 'threads';
  /** Keep Celery's start-up sync with other workers (off by default: it delays "ready."). */
  mingle?: boolean;
  /** Keep gossip with other workers (off by default). */
  gossip?: boolean;
  /** Send task events (`-E`). */
  events?: boolean;
  /** More `celery worker` arguments. */
  args?: readonly string[];
  /** Milliseconds to wait for "ready." (default 60000). */
  readyTimeoutMs?: number;
}

/** A running Python Celery worker. */
export interface PyWorker {
  /** The worker's node name (`celery@...` form given to -n). */
  readonly hostname: string;
  /** Warm shutdown (SIGTERM), SIGKILL to the whole process group after 15 s. Idempotent. */
  stop: () => Promise<void>;
  /** The worker's log so far (stdout and stderr). */
  output: () => string;
}

/**
 * Starts `/usr/bin/python3 -m celery -A pyapp worker` in test/interop/py and resolves once it
 * logs "ready.". The worker (and its pool processes) die on stop() and when this process exits.
 */
export async function startPyWorker(options: PyWorkerOptions): Promise<PyWorker> {
  const hostname = options.hostname ?? `py-${process.pid}-${Date.now() % 100000}@localhost`;
  const args = [
    '-m',
    'celery',
    '-A',
    'pyapp',
    'worker',
    '--loglevel',
    'INFO',
    '--hostname',
    hostname,
    '--concurrency',
    String(options.concurrency ?? 1),
    '--pool',
    options.pool ?? 'prefork',
  ];
  if (!options.mingle) args.push('--without-mingle');
  if (!options.gossip) args.push('--without-gossip');
  if (options.queues?.length) args.push('--queues', options.queues.join(','));
  if (options.events) args.push('--task-events');
  args.push(...(options.args ?? []));
  const proc = spawnManaged(PYTHON, args, {
    cwd: PY_DIR,
    env: pyEnvironment(options),
    group: true,
    stopTimeoutMs: 15_000,
  });
  try {
    await proc.waitForOutput(/ ready\.$/, options.readyTimeoutMs ?? 60_000);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { hostname, stop: () => proc.stop(), output: () => proc.output() };
}
