/**
 * Who holds a claimed message: host (with the PID namespace, so containers sharing a hostname
 * are told apart), process id and the process start time (so a reused pid is not mistaken for
 * the old process). A holder on this host whose process is gone is detected at once.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/** The identity written on claimed rows. */
export interface Owner {
  /** Unique per transport instance (connection). */
  id: string;
  host: string;
  pid: number;
  /** Process start time in clock ticks since boot (Linux), 0 where unknown. */
  start: number;
}

/** This host's identity: the hostname plus the PID namespace where Linux exposes it. */
export function hostIdentity(): string {
  try {
    return `${hostname()}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return hostname();
  }
}

/** Start time (clock ticks since boot) and state letter of a process, from /proc; null if unknown. */
function procStat(pid: number | 'self'): { start: number; state: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ..." — comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', start: Number(fields[19] ?? 0) };
  } catch {
    return null;
  }
}

/** A fresh owner identity for a transport instance of this process. */
export function newOwner(): Owner {
  return {
    id: randomUUID(),
    host: hostIdentity(),
    pid: process.pid,
    start: procStat('self')?.start ?? 0,
  };
}

/**
 * Whether the process `pid` (started at `start`, 0 = unknown) still runs on this host.
 * EPERM from kill(pid, 0) means it exists under another user; a zombie counts as dead.
 */
export function processAlive(pid: number, start: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = procStat(pid);
  if (!stat) return true;
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return start === 0 || stat.start === 0 || stat.start === start;
}
