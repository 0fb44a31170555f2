/**
 * The embedded result backend: task metas in a SQLite file (it may be the broker's file; it
 * uses its own connection). Waiters are woken by the same file watch as the broker: on a
 * change, the backend reads what was written after the last sequence number it saw, for the
 * tasks someone waits for. Expired rows are ignored on read and deleted at most once a minute.
 */
import { ClosedError, TimeoutError } from '../../errors.js';
import { decodeMeta, encodeMeta } from '../../protocol/result-meta.js';
import type { TaskMeta } from '../../protocol/types.js';
import type { Clock } from '../../util/clock.js';
import {
  isSqliteBusy,
  openSqliteFile,
  sqliteUrlOf,
  walPathOf,
  writeTransactions,
  type SqliteDatabase,
  type WriteTransaction,
} from '../../util/sqlite-file.js';
import { FileChangeWatcher } from '../../util/wakeup.js';
import type { ChordJoinResult, ResultBackend, StoreOptions, WaitOptions } from '../types.js';
import { ReadyWaiters, isReadyState } from '../waiters.js';
import {
  initResultSchema,
  prepareResults,
  type ResultRow,
  type ResultStatements,
} from './schema.js';

/** Settings of {@link SqliteBackend}, defaults applied. */
export interface SqliteBackendSettings {
  /** Default TTL of metas in seconds (result_expires); 0 = forever. */
  resultExpires: number;
  pollMs: number;
  busyTimeoutMs: number;
  clock: Clock;
}

/** A store() waiting for the transaction of its turn. */
interface PendingStore {
  row: { id: string; status: string; meta: Buffer; expires: number | null };
  resolve(): void;
  reject(error: Error): void;
}

/** Above this many watched tasks, a wake-up scans all changes instead of looking each one up. */
const LOOKUP_LIMIT = 64;
const CLEANUP_EVERY_MS = 60_000;

/** How long the change feed outlives its last waiter. */
const FEED_LINGER_MS = 1000;

/** The SQLite result backend. Build it with `createSqliteBackend(url, options)`. */
export class SqliteBackend implements ResultBackend {
  readonly kind = 'sqlite';
  readonly displayUrl: string;
  private db: SqliteDatabase | undefined;
  private tx: WriteTransaction | undefined;
  private s: ResultStatements | undefined;
  private closed = false;
  private readonly waiters = new ReadyWaiters((active) =>
    active ? this.startFeed() : this.lingerThenStop(),
  );
  /** Stops the feed a while after the last waiter left (see lingerThenStop()). */
  private linger: NodeJS.Timeout | undefined;
  private readonly watcher: FileChangeWatcher;
  private feeding = false;
  private cursor = 0;
  private dataVersion = -1;
  private dirty = false;
  private checkQueued = false;
  private lastCleanup = 0;
  /** Stores waiting for this turn's transaction (see store()). */
  private pendingStores: PendingStore[] = [];

  constructor(
    /** Absolute path of the database file. */
    readonly path: string,
    private readonly settings: SqliteBackendSettings,
  ) {
    this.displayUrl = sqliteUrlOf(path);
    this.watcher = new FileChangeWatcher({
      path: walPathOf(path),
      pollMs: settings.pollMs,
      onChange: () => this.check(),
    });
  }

  async connect(): Promise<void> {
    this.open();
  }

  private open(): ResultStatements {
    if (this.closed) throw new ClosedError(`The SQLite result backend ${this.displayUrl}`);
    if (this.s) return this.s;
    const db = openSqliteFile(this.path, {
      busyTimeoutMs: this.settings.busyTimeoutMs,
      role: 'result backend',
      unreachableCode: 'BACKEND_UNREACHABLE',
      init: initResultSchema,
    });
    this.db = db;
    this.tx = writeTransactions(db, this.settings.busyTimeoutMs);
    this.s = prepareResults(db);
    this.cleanup();
    return this.s;
  }

  private now(): number {
    return this.settings.clock.now();
  }

  private expiresAt(options: StoreOptions | undefined): number | null {
    const seconds = options?.expires ?? this.settings.resultExpires;
    return seconds > 0 ? this.now() + seconds * 1000 : null;
  }

  private live(row: ResultRow | undefined): TaskMeta | null {
    if (!row || (row.expires_at !== null && row.expires_at <= this.now())) return null;
    return decodeMeta(row.meta);
  }

  private write<T>(fn: (s: ResultStatements) => T): T {
    const s = this.open();
    const tx = this.tx;
    if (!tx) throw new ClosedError(`The SQLite result backend ${this.displayUrl}`);
    return tx(() => fn(s));
  }

  /**
   * Stores a meta. The stores of one turn of the event loop share one transaction (one commit
   * instead of one per result: the largest cost of a result on this backend); each caller's
   * promise settles once its row is committed.
   */
  store(meta: TaskMeta, options?: StoreOptions): Promise<void> {
    let row: PendingStore['row'];
    try {
      this.open();
      row = {
        id: meta.taskId,
        status: meta.status,
        meta: encodeMeta(meta),
        expires: this.expiresAt(options),
      };
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.pendingStores.push({ row, resolve, reject });
      if (this.pendingStores.length === 1) setImmediate(() => this.flushStores());
    });
  }

  private flushStores(): void {
    const batch = this.pendingStores;
    this.pendingStores = [];
    if (batch.length === 0) return;
    const now = this.now();
    try {
      this.write((s) => {
        for (const { row } of batch) s.store.run({ ...row, seq: s.nextSeq.get() ?? 0, now });
      });
    } catch (error) {
      for (const p of batch) p.reject(error as Error);
      return;
    }
    for (const p of batch) p.resolve();
    this.dirty = true;
    this.queueCheck();
    if (now - this.lastCleanup > CLEANUP_EVERY_MS) this.cleanup();
  }

  async get(taskId: string): Promise<TaskMeta | null> {
    return this.live(this.open().get.get(taskId));
  }

  async getMany(taskIds: readonly string[]): Promise<Array<TaskMeta | null>> {
    const s = this.open();
    return taskIds.map((id) => this.live(s.get.get(id)));
  }

  async waitFor(taskId: string, options: WaitOptions = {}): Promise<TaskMeta> {
    const s = this.open();
    if (options.signal?.aborted) throw options.signal.reason;
    this.startFeed();
    const current = this.live(s.get.get(taskId));
    if (current && isReadyState(current.status)) {
      if (!this.waiters.active) this.lingerThenStop();
      return current;
    }
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
    if (this.closed) return () => undefined;
    this.open();
    this.startFeed();
    return this.waiters.listen(taskId, listener);
  }

  /** Begins following changes from the current sequence number (idempotent). */
  private startFeed(): void {
    if (this.linger) {
      clearTimeout(this.linger);
      this.linger = undefined;
    }
    if (this.feeding || this.closed || !this.s) return;
    this.feeding = true;
    this.cursor = this.s.maxSeq.get() ?? 0;
    this.dataVersion = this.s.dataVersion.get() ?? 0;
    this.watcher.start();
  }

  /**
   * The last waiter is done: keep following changes for {@link FEED_LINGER_MS} before the
   * file watch is let go, so that a client waiting for one result after another (send, get,
   * send, get) does not attach and detach a file watch and re-read the cursor every time.
   * A waiter arriving meanwhile reads the stored state itself first, so the cursor having
   * moved on without it loses nothing.
   */
  private lingerThenStop(): void {
    if (!this.feeding || this.linger) return;
    this.linger = setTimeout(() => {
      this.linger = undefined;
      if (!this.waiters.active) this.stopFeed();
    }, FEED_LINGER_MS).unref();
  }

  private stopFeed(): void {
    if (this.linger) {
      clearTimeout(this.linger);
      this.linger = undefined;
    }
    this.feeding = false;
    this.watcher.stop();
  }

  private queueCheck(): void {
    if (this.checkQueued || !this.feeding) return;
    this.checkQueued = true;
    setImmediate(() => {
      this.checkQueued = false;
      this.check();
    });
  }

  /** Reads what changed since the cursor for the watched tasks and tells their waiters. */
  private check(): void {
    const s = this.s;
    if (!this.feeding || !s || this.closed) return;
    try {
      const version = s.dataVersion.get() ?? 0;
      if (version === this.dataVersion && !this.dirty) return;
      this.dataVersion = version;
      this.dirty = false;
      const max = s.maxSeq.get() ?? 0;
      if (max === this.cursor) return;
      const ids = [...this.waiters.taskIds()];
      const rows =
        ids.length <= LOOKUP_LIMIT
          ? ids
              .flatMap((id) => s.changedOne.all(id, this.cursor, max))
              .sort((a, b) => a.seq - b.seq)
          : s.changedAll.all(this.cursor, max).filter((r) => this.waiters.has(r.task_id));
      this.cursor = max;
      for (const row of rows) {
        const meta = this.live(row);
        if (meta) this.waiters.notify(meta);
      }
    } catch (error) {
      // Busy: retried at the next wake-up (the cursor did not move). Anything else would
      // leave the waiters hanging, so they get the error.
      if (!isSqliteBusy(error)) this.waiters.failAll(error);
    }
  }

  async forget(taskId: string): Promise<void> {
    this.open().forget.run(taskId);
  }

  async saveGroup(groupId: string, resultTuple: unknown, options?: StoreOptions): Promise<void> {
    this.open().saveGroup.run(groupId, JSON.stringify(resultTuple), this.expiresAt(options));
  }

  async restoreGroup(groupId: string): Promise<unknown | null> {
    const row = this.open().getGroup.get(groupId);
    if (!row || (row.expires_at !== null && row.expires_at <= this.now())) return null;
    return JSON.parse(row.data) as unknown;
  }

  async forgetGroup(groupId: string): Promise<void> {
    this.open().forgetGroup.run(groupId);
  }

  async setChordSize(groupId: string, size: number, options?: StoreOptions): Promise<void> {
    this.open().setChordSize.run(groupId, size, this.expiresAt(options));
  }

  /** Records the part and counts in one IMMEDIATE transaction: one caller ever completes it. */
  async chordPartCompleted(
    groupId: string,
    groupIndex: number | null,
    meta: TaskMeta,
  ): Promise<ChordJoinResult> {
    const bytes = encodeMeta(meta);
    const members = this.write((s): Buffer[] | null => {
      s.addPart.run(groupId, meta.taskId, groupIndex, bytes);
      const chord = s.chord.get(groupId);
      if (!chord || chord.size === null || chord.done) return null;
      if ((s.countParts.get(groupId) ?? 0) < chord.size) return null;
      if (s.markDone.run(groupId).changes !== 1) return null;
      return s.parts.all(groupId).map((p) => p.meta);
    });
    return members === null
      ? { complete: false }
      : { complete: true, members: members.map((m) => decodeMeta(m)) };
  }

  async chordCleanup(groupId: string): Promise<void> {
    this.write((s) => {
      s.dropChord.run(groupId);
      s.dropParts.run(groupId);
    });
  }

  /** Deletes expired rows, when a plain read finds some (so idle stores take no write lock). */
  private cleanup(): void {
    const s = this.s;
    if (!s) return;
    const now = this.now();
    this.lastCleanup = now;
    try {
      if (s.anyExpired.get(now, now, now) === undefined) return;
      this.write((st) => {
        st.expireResults.run(now);
        st.expireGroups.run(now);
        st.expireChordParts.run(now);
        st.expireChords.run(now);
      });
    } catch (error) {
      // Cleanup is best effort (expired rows are invisible to reads anyway); a busy lock can wait.
      if (!isSqliteBusy(error)) throw error;
    }
  }

  /** `await using` support: the same as close(). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Releases waiters with a ClosedError, stops the watch, closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flushStores();
    this.closed = true;
    this.waiters.close(new ClosedError(`The SQLite result backend ${this.displayUrl}`));
    this.stopFeed();
    const db = this.db;
    this.db = undefined;
    this.tx = undefined;
    this.s = undefined;
    db?.close();
  }
}
