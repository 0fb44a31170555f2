/**
 * The in-memory result backend: one process only (tests, eager use, `memory://`).
 * Same semantics as the others: SUCCESS is never overwritten, TTLs, chord joins.
 */
import { ClosedError, TimeoutError } from '../errors.js';
import type { TaskMeta } from '../protocol/types.js';
import { systemClock, type Clock } from '../util/clock.js';
import { ReadyWaiters, isReadyState } from './waiters.js';
import type { ChordJoinResult, ResultBackend, StoreOptions, WaitOptions } from './types.js';

/** Options of {@link MemoryBackend}. */
export interface MemoryBackendOptions {
  /** Default TTL of stored metas in seconds (Celery's result_expires); 0 = forever. Default 86400. */
  resultExpires?: number;
  /** Time source, for tests of expiry. */
  clock?: Clock;
}

interface Entry<T> {
  value: T;
  /** Epoch ms, or null for never. */
  expiresAt: number | null;
}

interface Chord {
  size: number | null;
  parts: Map<string, { index: number | null; meta: TaskMeta }>;
  done: boolean;
}

/** Result backend kept in this process's memory. */
export class MemoryBackend implements ResultBackend {
  readonly kind = 'memory';
  readonly displayUrl = 'memory://';
  private readonly metas = new Map<string, Entry<TaskMeta>>();
  private readonly groups = new Map<string, Entry<unknown>>();
  private readonly chords = new Map<string, Chord>();
  private readonly waiters = new ReadyWaiters();
  private readonly clock: Clock;
  private readonly defaultExpires: number;
  private closed = false;

  /** Accepts {@link MemoryBackendOptions}; unknown keys are ignored. */
  constructor(options: MemoryBackendOptions | Record<string, unknown> = {}) {
    const o = options as Record<string, unknown>;
    const clock = o['clock'];
    const expires = o['resultExpires'];
    this.clock = isClock(clock) ? clock : systemClock;
    this.defaultExpires = typeof expires === 'number' && expires >= 0 ? expires : 86_400;
  }

  private check(): void {
    if (this.closed) throw new ClosedError('The memory result backend');
  }

  private expiresAt(options: StoreOptions | undefined): number | null {
    const seconds = options?.expires ?? this.defaultExpires;
    return seconds > 0 ? this.clock.now() + seconds * 1000 : null;
  }

  private live<T>(map: Map<string, Entry<T>>, key: string): T | null {
    const entry = map.get(key);
    if (!entry) return null;
    if (entry.expiresAt !== null && entry.expiresAt <= this.clock.now()) {
      map.delete(key);
      return null;
    }
    return entry.value;
  }

  async connect(): Promise<void> {
    this.check();
  }

  async store(meta: TaskMeta, options?: StoreOptions): Promise<void> {
    this.check();
    if (this.live(this.metas, meta.taskId)?.status === 'SUCCESS') return;
    const copy = structuredClone(meta);
    this.metas.set(meta.taskId, { value: copy, expiresAt: this.expiresAt(options) });
    queueMicrotask(() => this.waiters.notify(structuredClone(copy)));
  }

  async get(taskId: string): Promise<TaskMeta | null> {
    this.check();
    const meta = this.live(this.metas, taskId);
    return meta ? structuredClone(meta) : null;
  }

  async getMany(taskIds: readonly string[]): Promise<Array<TaskMeta | null>> {
    return Promise.all(taskIds.map((id) => this.get(id)));
  }

  async waitFor(taskId: string, options: WaitOptions = {}): Promise<TaskMeta> {
    this.check();
    const current = this.live(this.metas, taskId);
    if (current && isReadyState(current.status)) return structuredClone(current);
    return this.waiters.wait(
      taskId,
      options,
      () =>
        new TimeoutError(`Waited ${options.timeout} ms for task ${taskId} to be ready`, {
          hint: "raise the timeout, or check that a worker consumes the task's queue",
        }),
    );
  }

  onChange(taskId: string, listener: (meta: TaskMeta) => void): () => void {
    return this.waiters.listen(taskId, listener);
  }

  async forget(taskId: string): Promise<void> {
    this.check();
    this.metas.delete(taskId);
  }

  async saveGroup(groupId: string, resultTuple: unknown, options?: StoreOptions): Promise<void> {
    this.check();
    this.groups.set(groupId, {
      value: structuredClone(resultTuple),
      expiresAt: this.expiresAt(options),
    });
  }

  async restoreGroup(groupId: string): Promise<unknown | null> {
    this.check();
    const value = this.live(this.groups, groupId);
    return value === null ? null : structuredClone(value);
  }

  async forgetGroup(groupId: string): Promise<void> {
    this.check();
    this.groups.delete(groupId);
  }

  private chord(groupId: string): Chord {
    let c = this.chords.get(groupId);
    if (!c) {
      c = { size: null, parts: new Map(), done: false };
      this.chords.set(groupId, c);
    }
    return c;
  }

  async setChordSize(groupId: string, size: number): Promise<void> {
    this.check();
    this.chord(groupId).size = size;
  }

  async chordPartCompleted(
    groupId: string,
    groupIndex: number | null,
    meta: TaskMeta,
  ): Promise<ChordJoinResult> {
    this.check();
    const c = this.chord(groupId);
    c.parts.set(meta.taskId, { index: groupIndex, meta: structuredClone(meta) });
    if (c.done || c.size === null || c.parts.size < c.size) return { complete: false };
    c.done = true;
    const members = [...c.parts.values()].sort(byGroupIndex).map((p) => structuredClone(p.meta));
    return { complete: true, members };
  }

  async chordCleanup(groupId: string): Promise<void> {
    this.check();
    this.chords.delete(groupId);
  }

  /** `await using` support: the same as close(). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Releases pending waiters with a ClosedError. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.waiters.close(new ClosedError('The memory result backend'));
  }
}

/** Chord members in group-index order (null last), then by task id. */
export function byGroupIndex(
  a: { index: number | null; meta: TaskMeta },
  b: { index: number | null; meta: TaskMeta },
): number {
  const ai = a.index ?? Number.POSITIVE_INFINITY;
  const bi = b.index ?? Number.POSITIVE_INFINITY;
  if (ai !== bi) return ai < bi ? -1 : 1;
  return a.meta.taskId < b.meta.taskId ? -1 : a.meta.taskId > b.meta.taskId ? 1 : 0;
}

function isClock(value: unknown): value is Clock {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Clock).now === 'function' &&
    typeof (value as Clock).monotonic === 'function'
  );
}
