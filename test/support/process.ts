/**
 * Child processes for tests that are never left behind: each one is killed when it is stopped,
 * when the test process exits, and (through `setpriv --pdeathsig`, where available) when the test
 * process dies of a signal.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** How to start a managed child. */
export interface ManagedSpawnOptions {
  /** Working directory. */
  cwd?: string;
  /** Full environment of the child (defaults to this process's). */
  env?: NodeJS.ProcessEnv;
  /** Put the child in its own process group; stop() then kills the whole group at the end. */
  group?: boolean;
  /** Signal sent first by stop() (default SIGTERM). */
  stopSignal?: NodeJS.Signals;
  /** Milliseconds stop() waits after `stopSignal` before SIGKILL (default 10000). */
  stopTimeoutMs?: number;
  /** Characters of output kept for {@link ManagedProcess.output} (default 200000, the newest kept). */
  keepChars?: number;
}

/** A child process started by {@link spawnManaged}. */
export interface ManagedProcess {
  /** The child's pid. */
  readonly pid: number;
  /** The command line, for messages. */
  readonly commandLine: string;
  /** stdout and stderr interleaved, as far as kept. */
  output: () => string;
  /** Exit code or signal once the child has exited, `undefined` while it runs. */
  exited: () => { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Resolves when a line of output matches `pattern`; rejects if the child exits first or on timeout. */
  waitForOutput: (pattern: RegExp, timeoutMs: number) => Promise<void>;
  /** Sends `stopSignal`, then SIGKILL after `stopTimeoutMs`; resolves once the child has exited. Idempotent. */
  stop: () => Promise<void>;
}

/**
 * Absolute path of `name`: the first hit on PATH, else the first existing `fallbacks` entry,
 * else `undefined`.
 */
export function findExecutable(
  name: string,
  fallbacks: readonly string[] = [],
): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return fallbacks.find((f) => existsSync(f));
}

/** True when `setpriv --pdeathsig` can tie a child's life to ours (Linux util-linux). */
export function hasSetpriv(): boolean {
  return findExecutable('setpriv', ['/usr/bin/setpriv']) !== undefined;
}

/**
 * Starts `command` with stdin closed and stdout/stderr captured. The child never keeps the test
 * process alive, and dies with it.
 */
export function spawnManaged(
  command: string,
  args: readonly string[],
  options: ManagedSpawnOptions = {},
): ManagedProcess {
  const keep = options.keepChars ?? 200_000;
  const commandLine = [command, ...args].join(' ');
  const wrapped = hasSetpriv()
    ? { cmd: 'setpriv', argv: ['--pdeathsig', 'SIGKILL', '--', command, ...args] }
    : { cmd: command, argv: [...args] };
  const child: ChildProcess = spawn(wrapped.cmd, wrapped.argv, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.group ?? false,
  });
  if (child.pid === undefined) {
    throw new Error(`could not start ${commandLine}: is ${command} installed and on PATH?`);
  }
  const pid = child.pid;
  let text = '';
  let pending = '';
  const lineWaiters = new Set<(line: string) => void>();
  const exitWaiters = new Set<() => void>();
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  const onData = (chunk: Buffer): void => {
    const s = chunk.toString('utf8');
    text = (text + s).slice(-keep);
    pending += s;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) for (const w of [...lineWaiters]) w(line);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  // SIGKILL the child, or its whole process group (whose members may outlive the leader).
  const killNow = (): void => {
    if (exitInfo && !options.group) return;
    try {
      process.kill(options.group ? -pid : pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.on('exit', killNow);
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      if (pending) for (const w of [...lineWaiters]) w(pending);
      if (!options.group) process.removeListener('exit', killNow);
      for (const w of [...exitWaiters]) w();
      resolve();
    });
  });
  child.once('error', (err) => {
    text += `\n[spawn error] ${err.message}\n`;
  });
  // Never keep the test process alive because of this child.
  child.unref();
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();

  let stopping: Promise<void> | undefined;
  return {
    pid,
    commandLine,
    output: () => text,
    exited: () => exitInfo,
    waitForOutput(pattern, timeoutMs) {
      if (text.split('\n').some((l) => pattern.test(l))) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const done = (err?: Error): void => {
          clearTimeout(timer);
          lineWaiters.delete(onLine);
          exitWaiters.delete(onExit);
          if (err) reject(err);
          else resolve();
        };
        const onLine = (line: string): void => {
          if (pattern.test(line)) done();
        };
        const onExit = (): void =>
          done(
            new Error(
              `${commandLine} exited (${JSON.stringify(exitInfo)}) before printing ${String(pattern)}. Output:\n${text.slice(-4000)}`,
            ),
          );
        const timer = setTimeout(
          () =>
            done(
              new Error(
                `${commandLine} did not print ${String(pattern)} within ${timeoutMs} ms. Output:\n${text.slice(-4000)}`,
              ),
            ),
          timeoutMs,
        );
        lineWaiters.add(onLine);
        exitWaiters.add(onExit);
        if (exitInfo) onExit();
      });
    },
    stop() {
      stopping ??= (async () => {
        if (!exitInfo) {
          child.ref(); // keep this process alive until the child's exit is seen
          try {
            process.kill(pid, options.stopSignal ?? 'SIGTERM');
          } catch {
            // already gone
          }
          const timer = setTimeout(killNow, options.stopTimeoutMs ?? 10_000);
          await exitPromise;
          clearTimeout(timer);
        }
        if (options.group) {
          killNow(); // the group's stragglers
          process.removeListener('exit', killNow);
        }
      })();
      return stopping;
    },
  };
}
