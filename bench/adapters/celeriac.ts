/**
 * celeriac itself, with the Redis broker and result backend (`celeriac`) or the embedded
 * SQLite default (`celeriac-sqlite`). The worker is the CLI, as a user starts it:
 * `node bin/celeriac.js -A bench/workers/celeriac-app.ts worker -c N -l warning`; the producer
 * is the app's own `add.delay()` / `AsyncResult.get()`.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { LocalProducer, type Client } from '../lib/producer.js';
import type { LoopOptions, Producer, SystemAdapter, Target, WorkerSpec } from '../lib/types.js';
import {
  BENCH_DIR,
  CeleryResultCounter,
  ROOT,
  packageVersion,
  projectVersion,
  workerEnv,
} from './common.js';

const QUEUE = 'celery';

/**
 * The worker runs the compiled package with a JavaScript app, as a deployment does (no
 * TypeScript loader in the process: tsx costs ~40 MB and most of a second per process).
 * BENCH_CELERIAC_SOURCE=1 runs the sources through tsx instead, as `npx celeriac -A tasks.ts`.
 */
const FROM_SOURCE = process.env.BENCH_CELERIAC_SOURCE === '1';
const BUILD_DIR = join(BENCH_DIR, '.build', 'dist');
let built: { error: string | undefined } | undefined;

/** Compiles src/ into bench/.build/dist once per run; the reason when it fails. */
function buildOnce(): string | undefined {
  if (FROM_SOURCE) return undefined;
  if (!built) {
    try {
      execFileSync(
        process.execPath,
        [
          join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
          '-p',
          join(ROOT, 'tsconfig.build.json'),
          '--outDir',
          BUILD_DIR,
        ],
        { cwd: ROOT, stdio: 'pipe' },
      );
      built = { error: undefined };
    } catch (e) {
      const out = (e as { stdout?: Buffer }).stdout?.toString() ?? '';
      built = {
        error: `the build failed (tsc -p tsconfig.build.json): ${out.split('\n')[0] ?? ''}`,
      };
    }
  }
  return built.error;
}
const PROBE_TIMEOUT_MS = 30_000;

type Store = 'redis' | 'sqlite';

function brokerUrl(store: Store, target: Target): string {
  return store === 'redis' ? target.redis.url : `sqlite:///${join(target.dataDir, 'celeriac.db')}`;
}

/** Minimal view of what the harness uses from an AsyncResult. */
interface Handle {
  readonly id: string;
  get(options: { timeout?: number }): Promise<unknown>;
}

async function openClient(store: Store, target: Target): Promise<Client<Handle>> {
  const { createBenchApp } = await import('../workers/celeriac-tasks.js');
  const { app, add } = createBenchApp(brokerUrl(store, target));
  const backend = await app.backend();
  // On Redis, results are counted as the other Celery-format systems' are (EXISTS, no
  // decoding): the poller runs beside the workers, and a dearer one takes their CPU.
  const redis =
    store === 'redis'
      ? new Redis({ host: target.redis.host, port: target.redis.port, db: target.redis.db })
      : undefined;
  const counter = redis && new CeleryResultCounter<Handle>(redis, (h) => h.id);
  let counted: readonly Handle[] = [];
  let done = 0;
  return {
    send: (x, y) => add.delay(x, y),
    wait: (h, timeoutMs) => h.get({ timeout: timeoutMs / 1000 }),
    // Stored results among the handles, resuming where the last call stopped (FIFO-ish).
    async completed(handles) {
      if (counter) return counter.count(handles);
      if (handles !== counted) {
        counted = handles;
        done = 0;
      }
      while (done < handles.length) {
        const win = handles.slice(done, done + 256);
        const metas = await backend.getMany(win.map((h) => h.id));
        const stored = metas.filter((m) => m?.status === 'SUCCESS').length;
        if (stored < win.length) return done + stored;
        done += win.length;
      }
      return done;
    },
    result: async (h) => (await backend.get(h.id))?.result,
    close: async () => {
      redis?.disconnect();
      await app.close();
    },
  };
}

/** Why celeriac cannot run with this store, or undefined: builds the app and connects. */
async function probe(store: Store, target: Target): Promise<string | undefined> {
  const attempt = async (): Promise<undefined> => {
    const { createBenchApp } = await import('../workers/celeriac-tasks.js');
    const { app } = createBenchApp(brokerUrl(store, target));
    try {
      await app.backend();
      await app.connection();
    } finally {
      await app.close().catch(() => undefined);
    }
    return undefined;
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`connecting took more than ${PROBE_TIMEOUT_MS / 1000} s`)),
      PROBE_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([attempt(), timeout]);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return msg.split('\n')[0]!.slice(0, 300);
  } finally {
    clearTimeout(timer);
  }
}

function makeAdapter(store: Store): SystemAdapter {
  return {
    id: store === 'redis' ? 'celeriac' : 'celeriac-sqlite',
    label: store === 'redis' ? 'celeriac' : 'celeriac SQLite',
    store,
    defaultConcurrency: 100,
    describe: (t) =>
      `celeriac ${projectVersion()} (this tree, ${FROM_SOURCE ? 'sources through tsx' : 'compiled, JavaScript app'}), ${store === 'redis' ? 'Redis broker + Redis results' : 'embedded SQLite broker + results (WAL file)'}, CLI worker -c ${t.concurrency}`,
    enqueueModes: ['one', 'concurrent'],
    drainEnqueueMode: 'concurrent',
    endToEndMode: 'concurrent',
    unavailable: async (target) => buildOnce() ?? (await probe(store, target)),
    versions: async () => ({
      celeriac: projectVersion(),
      ...(store === 'redis' ? { ioredis: packageVersion('ioredis') } : {}),
    }),
    workerSpec(target: Target, index: number): WorkerSpec {
      const entry = FROM_SOURCE
        ? [join(ROOT, 'bin', 'celeriac.js'), '-A', join(BENCH_DIR, 'workers', 'celeriac-app.ts')]
        : [join(BUILD_DIR, 'cli', 'main.js'), '-A', join(BENCH_DIR, 'workers', 'celeriac-app.mjs')];
      return {
        cmd: process.execPath,
        args: [
          ...entry,
          'worker',
          '-c',
          String(target.concurrency),
          '-l',
          'warning',
          '-n',
          `bench${index}@%h`,
        ],
        cwd: ROOT,
        env: {
          ...workerEnv(target, QUEUE),
          BENCH_BROKER_URL: brokerUrl(store, target),
          ...(FROM_SOURCE ? { CELERIAC_FROM_SOURCE: '1' } : {}),
        },
      };
    },
    async openProducer(target: Target, loops: LoopOptions): Promise<Producer> {
      return new LocalProducer(await openClient(store, target), loops);
    },
  };
}

/** celeriac on the benchmark Redis. */
export const celeriac = makeAdapter('redis');
/** celeriac on its embedded SQLite default. */
export const celeriacSqlite = makeAdapter('sqlite');
