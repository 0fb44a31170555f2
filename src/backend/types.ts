/**
 * The result backend seam: where task states and results are stored, and how waiters learn
 * of them. Memory, SQLite and Redis implement {@link ResultBackend}; backend.contract.ts pins
 * the semantics. Metas are stored in Celery's JSON form (protocol/result-meta.ts) so Python
 * clients read what we write and vice versa.
 */
import type { TaskMeta } from '../protocol/types.js';

export interface StoreOptions {
  /** Seconds the stored meta lives; undefined = the backend default; 0 = forever. */
  expires?: number | undefined;
}

export interface WaitOptions {
  /** Milliseconds; undefined = wait forever. */
  timeout?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** Chord join bookkeeping after one header task completed. */
export interface ChordJoinResult {
  /** True for exactly one caller: the one whose completion made the count reach the size. */
  complete: boolean;
  /**
   * When complete: the header metas ordered by group index (index order, then task id),
   * so the caller can fire the body or fail it with a ChordError.
   */
  members?: TaskMeta[];
}

/** The result backend seam. */
export interface ResultBackend {
  /** 'memory' | 'sqlite' | 'redis' | 'disabled' */
  readonly kind: string;
  readonly displayUrl: string;
  /** Open connections / files. Throws ConnectionError naming the URL and the fix. */
  connect(): Promise<void>;
  /** Store a state. A stored SUCCESS is never overwritten. Notifies waiters. */
  store(meta: TaskMeta, options?: StoreOptions): Promise<void>;
  /** The stored meta, or null (Celery reads that as PENDING). */
  get(taskId: string): Promise<TaskMeta | null>;
  getMany(taskIds: readonly string[]): Promise<Array<TaskMeta | null>>;
  /**
   * Resolve with the meta once it is in a ready state (SUCCESS, FAILURE, REVOKED).
   * Uses the backend's change notification, not a slow poll.
   * Rejects with TimeoutError on timeout, or the signal's reason on abort.
   */
  waitFor(taskId: string, options?: WaitOptions): Promise<TaskMeta>;
  /** Watch every state change of a task (STARTED, RETRY, progress...). Returns an unsubscribe. */
  onChange?(taskId: string, listener: (meta: TaskMeta) => void): () => void;
  forget(taskId: string): Promise<void>;
  /** GroupResult.save(): store the group's result tuple (wire form). */
  saveGroup(groupId: string, resultTuple: unknown, options?: StoreOptions): Promise<void>;
  restoreGroup(groupId: string): Promise<unknown | null>;
  forgetGroup(groupId: string): Promise<void>;
  /** Set the number of header tasks of a chord (before any header task is sent). */
  setChordSize(groupId: string, size: number, options?: StoreOptions): Promise<void>;
  /**
   * Record one header task's final meta, atomically count, and tell whether this call
   * completed the chord. Exactly one caller ever sees complete = true.
   */
  chordPartCompleted(
    groupId: string,
    groupIndex: number | null,
    meta: TaskMeta,
    options?: StoreOptions,
  ): Promise<ChordJoinResult>;
  /** Delete the chord's bookkeeping keys after the body was sent. */
  chordCleanup(groupId: string): Promise<void>;
  close(): Promise<void>;
}
