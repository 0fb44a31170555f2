/**
 * Worker processes: each in a process group of its own (so Celery's forked children stop with
 * it), output to a log file, killed when stopped and when the harness exits however it exits.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkerSpec } from './types.js';

/** A running worker process (group). */
export interface WorkerProcess {
  readonly pid: number;
  /** performance.now() at spawn. */
  readonly startedAt: number;
  readonly logFile: string;
  /** Exit info once the leader has exited. */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

/** Every group started and not yet stopped, killed on exit. */
export class WorkerGroup {
  readonly #live = new Set<number>();
  readonly #logDir: string;
  #installed = false;

  constructor(logDir: string) {
    this.#logDir = logDir;
  }

  #installCleanup(): void {
    if (this.#installed) return;
    this.#installed = true;
    const killAll = (): void => {
      for (const pid of this.#live) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      this.#live.clear();
    };
    process.on('exit', killAll);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(sig, () => {
        killAll();
        process.exit(130);
      });
    }
  }

  /** Starts a worker; `name` names its log file (appended to). */
  spawn(spec: WorkerSpec, name: string): WorkerProcess {
    this.#installCleanup();
    const logFile = join(this.#logDir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    // setpriv --pdeathsig: the leader dies with the harness even on SIGKILL of the harness.
    const setpriv = existsSync('/usr/bin/setpriv');
    const cmd = setpriv ? '/usr/bin/setpriv' : spec.cmd;
    const args = setpriv
      ? ['--pdeathsig', 'SIGKILL', '--', spec.cmd, ...spec.args]
      : [...spec.args];
    const child = spawn(cmd, args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', fd, fd],
      detached: true,
    });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`could not start ${spec.cmd}: is it installed?`);
    const pid = child.pid;
    this.#live.add(pid);
    let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
    });
    child.unref();
    return { pid, startedAt: performance.now(), logFile, exited: () => exitInfo };
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when the group is gone. */
  async stop(w: WorkerProcess, graceMs = 3000): Promise<void> {
    const alive = (): boolean => {
      try {
        process.kill(-w.pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    if (alive()) {
      try {
        process.kill(-w.pid, 'SIGTERM');
      } catch {
        // gone
      }
      const deadline = performance.now() + graceMs;
      while (alive() && performance.now() < deadline) await sleep(25);
      if (alive()) {
        try {
          process.kill(-w.pid, 'SIGKILL');
        } catch {
          // gone
        }
        const hard = performance.now() + 3000;
        while (alive() && performance.now() < hard) await sleep(10);
      }
    }
    this.#live.delete(w.pid);
  }
}
