/** Running the CLI as a user does: real processes, real signals, a private SQLite file. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'celeriac.js');
export const TASKS = join(ROOT, 'examples', 'tasks.ts');

/** A temp folder with its own broker file, removed by cleanup(). */
export function sandbox(): { dir: string; env: NodeJS.ProcessEnv; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-e2e-'));
  // An absolute path after sqlite:/// gives four slashes, as in SQLAlchemy's URLs.
  const url = `sqlite:///${join(dir, 'celeriac.db')}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CELERY_BROKER_URL: url,
    CELERY_RESULT_BACKEND: url,
  };
  delete env.NODE_OPTIONS;
  return { dir, env, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs a CLI command to completion. */
export function run(
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: options.env,
      cwd: options.cwd ?? ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`celeriac ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`),
      );
    }, options.timeoutMs ?? 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** A worker process, with its output captured. */
export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `celeriac -A examples/tasks.ts worker` and waits for its ready line. */
export async function startWorker(
  env: NodeJS.ProcessEnv,
  extra: string[] = [],
  appPath: string = TASKS,
  options: { waitReady?: boolean } = {},
): Promise<WorkerProcess> {
  const child = spawn(
    process.execPath,
    [BIN, '-A', appPath, 'worker', '--loglevel=info', ...extra],
    {
      env,
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const waitFor = (pattern: RegExp, timeoutMs = 20_000): Promise<void> =>
    new Promise((resolvePromise, reject) => {
      const check = (): void => {
        if (pattern.test(out)) {
          listeners.delete(check);
          clearTimeout(timer);
          resolvePromise();
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`worker output never matched ${pattern}:\n${out}`));
      }, timeoutMs);
      listeners.add(check);
      check();
      void exited.then(() => {
        if (listeners.has(check)) {
          listeners.delete(check);
          clearTimeout(timer);
          reject(new Error(`worker exited before ${pattern}:\n${out}`));
        }
      });
    });
  const worker: WorkerProcess = {
    child,
    output: () => out,
    waitFor,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  if (options.waitReady !== false) await waitFor(/ ready\./);
  return worker;
}
