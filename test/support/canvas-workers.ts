/**
 * celeriac worker processes for canvas tests: `celeriac -A test/fixtures/apps/canvas.ts worker`
 * with its runs logged to a file, and reading that log back.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnManaged, type ManagedProcess } from './process.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
/** The app module the workers load. */
export const CANVAS_APP = join(ROOT, 'test', 'fixtures', 'apps', 'canvas.ts');

/** One run of a task, as the canvas app logs it. */
export interface Run {
  id: string;
  task: string;
  args: unknown[];
  group: string | null;
  pid: number;
  /** The worker's node name (absent in runs logged by Python). */
  hostname?: string;
}

/** Starts a worker process and waits until it is ready. */
export async function startCanvasWorker(options: {
  brokerUrl: string;
  backendUrl?: string;
  runLog: string;
  name: string;
  concurrency?: number;
  queues?: readonly string[];
  pool?: string;
}): Promise<ManagedProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CELERY_BROKER_URL: options.brokerUrl,
    CELERY_RESULT_BACKEND: options.backendUrl ?? options.brokerUrl,
    RUN_LOG: options.runLog,
  };
  delete env.NODE_OPTIONS;
  const args = [
    join(ROOT, 'bin', 'celeriac.js'),
    '-A',
    CANVAS_APP,
    'worker',
    '--loglevel=INFO',
    '-n',
    `${options.name}@%h`,
    '-c',
    String(options.concurrency ?? 4),
  ];
  if (options.queues?.length) args.push('-Q', options.queues.join(','));
  if (options.pool) args.push('-P', options.pool);
  const worker = spawnManaged(process.execPath, args, { cwd: ROOT, env, keepChars: 100_000 });
  await worker.waitForOutput(/ ready\./, 60_000);
  return worker;
}

/** The runs logged so far. */
export function readRuns(runLog: string): Run[] {
  if (!existsSync(runLog)) return [];
  return readFileSync(runLog, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Run);
}
