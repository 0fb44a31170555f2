/**
 * Driving `celeriac events` (the terminal monitor) in a real terminal: the monitor runs under
 * `script(1)` (a pseudo-terminal), keys are typed into it and its screen is read back.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { BIN, ROOT } from './cli-helpers.js';

/** True when script(1) can give the monitor a pseudo-terminal. */
export const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

/** What the keys send in an xterm. */
export const KEY = {
  up: '\x1b[A',
  down: '\x1b[B',
  pageUp: '\x1b[5~',
  pageDown: '\x1b[6~',
  enter: '\r',
} as const;

/** The screen as last drawn: the text after the last cursor-home, without colors. */
export function screen(raw: string): string {
  const frame = raw.slice(raw.lastIndexOf('\x1b[H') + 3);
  return frame.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
}

/** `text` as a literal inside a RegExp. */
export function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A task-list row (130 columns: the full UUID) of task `id` in `state`. */
export function taskRow(id: string, name: string, worker: string, state: string): RegExp {
  return new RegExp(
    `${literal(id)} +${literal(name)} +${literal(worker)} +\\d\\d:\\d\\d:\\d\\d ${state}`,
  );
}

/** The first line of the selected task's details. */
export function taskDetails(name: string, id: string, state: string, worker: string): RegExp {
  return new RegExp(
    `${literal(name)} ${literal(id)} {2}${state} {2}worker: ${literal(worker)}(?: |$)`,
    'm',
  );
}

/** A monitor running in a pseudo-terminal. */
export interface Monitor {
  /** Everything it wrote so far, escape codes included. */
  raw(): string;
  /** The screen as last drawn. */
  screen(): string;
  /** Types keys (see {@link KEY}). */
  press(...keys: string[]): void;
  /** Waits until the screen matches `pattern`; fails naming `what` and showing the screen. */
  until(pattern: RegExp, what: string, ms?: number): Promise<string>;
  /** The exit code of script(1) (the monitor's, with -e). */
  exited: Promise<number | null>;
  /** SIGKILL unless it has exited. */
  kill(): void;
}

/**
 * Starts `celeriac <args> events` under script(1) in a `cols` x `rows` terminal (TERM=xterm),
 * e.g. `startMonitor(['-A', app], env)` or `startMonitor(['-b', url], env)`.
 */
export function startMonitor(
  args: string[],
  env: NodeJS.ProcessEnv,
  size: { cols?: number; rows?: number } = {},
): Monitor {
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const command = `stty cols ${size.cols ?? 130} rows ${size.rows ?? 40}; exec '${process.execPath}' '${BIN}' ${quoted} events`;
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
    cwd: ROOT,
    env: { ...env, TERM: 'xterm' },
  });
  let raw = '';
  child.stdout.on('data', (d: Buffer) => (raw += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (raw += d.toString('utf8')));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    raw: () => raw,
    screen: () => screen(raw),
    press: (...keys) => {
      for (const k of keys) child.stdin.write(k);
    },
    until: async (pattern, what, ms = 20_000) => {
      const end = Date.now() + ms;
      for (;;) {
        const s = screen(raw);
        if (pattern.test(s)) return s;
        if (Date.now() > end) assert.fail(`the monitor never showed ${what}; screen:\n${s}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
