/**
 * Python Celery (Debian's python3-celery on /usr/bin/python3): `celery worker -P prefork -c 2`
 * (its default pool; -c = CPUs here), Redis broker + Redis result backend. The producer is
 * Python too (bench/workers/celery_py/producer.py), driven over JSON lines.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RemoteProducer } from '../lib/producer.js';
import type { LoopOptions, Producer, SystemAdapter, Target, WorkerSpec } from '../lib/types.js';
import { BENCH_DIR, workerEnv } from './common.js';

const run = promisify(execFile);
const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';
const PY_DIR = join(BENCH_DIR, 'workers', 'celery_py');
const QUEUE = 'celery';

async function python(code: string): Promise<string> {
  const { stdout } = await run(PYTHON, ['-c', code], { timeout: 20_000 });
  return stdout.trim();
}

/** The Python Celery adapter. */
export const celeryPy: SystemAdapter = {
  id: 'celery-py',
  label: 'Celery',
  store: 'redis',
  defaultConcurrency: 2,
  describe: (t) =>
    `Python Celery, ${PYTHON}: celery worker -P prefork -c ${t.concurrency} (defaults); Python producer (add.delay())`,
  // group(...).apply_async() exists but is no batch send: it sends one message per task and
  // measured ~2x slower than the delay() loop, so 'one' is what a Celery user would use.
  enqueueModes: ['one'],
  drainEnqueueMode: 'one',
  endToEndMode: 'one',
  async unavailable() {
    try {
      await python('import celery, redis');
      return undefined;
    } catch (e) {
      const why =
        e instanceof Error
          ? (e.message.split('\n').find((l) => /Error|not found|No such/.test(l)) ?? e.message)
          : String(e);
      return `no Python Celery at ${PYTHON} (${why.trim()}); install it with apt-get install python3-celery python3-redis, or set BENCH_PYTHON`;
    }
  },
  async versions() {
    const v = (
      await python(
        'import sys, celery, kombu, redis; print(sys.version.split()[0], celery.__version__, kombu.__version__, redis.__version__)',
      )
    ).split(' ');
    return {
      python: v[0] ?? '?',
      celery: v[1] ?? '?',
      kombu: v[2] ?? '?',
      'redis-py': v[3] ?? '?',
    };
  },
  workerSpec(target: Target, index: number): WorkerSpec {
    return {
      cmd: PYTHON,
      args: [
        '-m',
        'celery',
        '-A',
        'bench_app',
        'worker',
        '-P',
        'prefork',
        '-c',
        String(target.concurrency),
        '-l',
        'WARNING',
        '-Q',
        QUEUE,
        '-n',
        `bench${index}@%h`,
      ],
      cwd: PY_DIR,
      env: workerEnv(target, QUEUE),
    };
  },
  async openProducer(target: Target, loops: LoopOptions): Promise<Producer> {
    const spec: WorkerSpec = {
      cmd: PYTHON,
      args: [join(PY_DIR, 'producer.py')],
      cwd: PY_DIR,
      env: { ...workerEnv(target, QUEUE), BENCH_BATCH: String(loops.batch) },
    };
    return RemoteProducer.start(spec, {});
  },
};
