/**
 * Process monitor (Linux /proc): memory and CPU time of a process tree, and how busy the
 * whole machine is. A worker "tree" is its process plus every descendant (Celery's prefork
 * children, tsx's esbuild helper), summed.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

const PAGE_BYTES = 4096;
/** Clock ticks per second of utime/stime in /proc/<pid>/stat (`getconf CLK_TCK`; 100 on Linux). */
const CLK_TCK = 100;
const MB = 2 ** 20;

interface Stat {
  readonly ppid: number;
  /** user + system CPU seconds. */
  readonly cpu: number;
}

function readStat(pid: number | string): Stat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces: fields after the last ')' are fixed.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0] = state (field 3), f[1] = ppid (4), f[11] = utime (14), f[12] = stime (15)
    return { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK };
  } catch {
    return undefined; // the process is gone
  }
}

/** The given pids and all their live descendants. */
export function treePids(roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(name);
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(Number(name));
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const stack = roots.filter((p) => p > 0);
  for (let p = stack.pop(); p !== undefined; p = stack.pop()) {
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

/** CPU seconds (user + system) used so far by the live processes among `pids`. */
export function cpuSeconds(pids: readonly number[]): number {
  let total = 0;
  for (const p of pids) total += readStat(p)?.cpu ?? 0;
  return total;
}

function statusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function rssBytes(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE_BYTES;
  } catch {
    return 0;
  }
}

function pssBytes(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Memory of a process tree now, in MB. PSS shares forked children's common pages out fairly. */
export interface TreeMemory {
  readonly rssMB: number;
  readonly pssMB: number;
  /** Sum of each process's own RSS high-water mark (VmHWM). */
  readonly hwmMB: number;
  readonly processes: number;
}

/** RSS, PSS and high-water mark summed over the tree rooted at `roots`. */
export function treeMemory(roots: readonly number[]): TreeMemory {
  const pids = treePids(roots);
  let rss = 0;
  let pss = 0;
  let hwmKb = 0;
  for (const p of pids) {
    rss += rssBytes(p);
    pss += pssBytes(p);
    hwmKb += statusKb(p, 'VmHWM');
  }
  return { rssMB: rss / MB, pssMB: pss / MB, hwmMB: (hwmKb * 1024) / MB, processes: pids.length };
}

/** Samples a tree's RSS sum every `everyMs` until stop(), which returns the largest sum seen. */
export class RssSampler {
  #peak = 0;
  readonly #timer: NodeJS.Timeout;
  readonly #roots: readonly number[];

  constructor(roots: readonly number[], everyMs = 100) {
    this.#roots = roots;
    this.#tick();
    this.#timer = setInterval(() => this.#tick(), everyMs);
  }

  #tick(): void {
    let rss = 0;
    for (const p of treePids(this.#roots)) rss += rssBytes(p);
    this.#peak = Math.max(this.#peak, rss);
  }

  /** Stops sampling; the peak RSS sum in MB. */
  stop(): number {
    clearInterval(this.#timer);
    this.#tick();
    return this.#peak / MB;
  }
}

/**
 * Busy CPU seconds of the whole machine so far, all cores (user + nice + system + steal from
 * /proc/stat; interrupt time, mostly the benchmark's own loopback traffic, is left out).
 */
export function machineBusySeconds(): number {
  const f = cpuLine();
  return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[7] ?? 0)) / CLK_TCK;
}

/**
 * CPU seconds the hypervisor gave to others while this VM wanted them, all cores so far
 * (/proc/stat "steal"). On a shared host it slows everything measured; a run with much of it
 * is a run to repeat, not a figure to compare.
 */
export function machineStealSeconds(): number {
  return (cpuLine()[7] ?? 0) / CLK_TCK;
}

/** The numbers of /proc/stat's first line (`cpu user nice system idle iowait irq softirq steal ...`). */
function cpuLine(): number[] {
  return parseCpuLine(readFileSync('/proc/stat', 'utf8'));
}

/** The aggregate `cpu` line of a /proc/stat text, as numbers (empty when there is none). */
export function parseCpuLine(stat: string): number[] {
  const line = stat.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) return [];
  return line.trim().split(/\s+/).slice(1).map(Number);
}

/** Steal over a window as % of all cores' time. */
export function stealPct(steal0: number, secs: number): number {
  return secs > 0 ? (100 * (machineStealSeconds() - steal0)) / (CORES * secs) : NaN;
}

/** This process's own CPU seconds. */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Number of CPU cores. */
export const CORES = Math.max(1, cpus().length);

/**
 * Waits until the machine has been at most `maxBusyPct` % busy over one second, for at most
 * `maxWaitMs`; returns the last load seen (%). Other sessions share this machine: measuring
 * while they run a heavy job would measure them.
 */
export async function waitForQuiet(maxBusyPct: number, maxWaitMs: number): Promise<number> {
  if (!(maxBusyPct > 0) || maxWaitMs <= 0) return NaN;
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const b0 = machineBusySeconds();
    const t0 = performance.now();
    await sleep(1000);
    const load = (100 * (machineBusySeconds() - b0)) / (CORES * ((performance.now() - t0) / 1000));
    if (load <= maxBusyPct || Date.now() >= deadline) return load;
  }
}
