/**
 * Opening the embedded SQLite store: URL → path (SQLAlchemy's convention, as Celery uses it),
 * parent folder creation, WAL settings, and errors that name the path and the fix.
 * Shared by the SQLite transport and result backend (each opens its own connection).
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError, ConnectionError, type ErrorCode } from '../errors.js';

/** A better-sqlite3 connection. */
export type SqliteDatabase = Database.Database;

/** What a write reports. */
export interface SqliteRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

/**
 * A prepared statement, typed by its parameters `P` (a tuple; named parameters are one object)
 * and its row `R`. Our own interface, so modules exporting statement sets can name their types.
 */
export interface SqliteStatement<P extends unknown[] = [], R = unknown> {
  run(...params: P): SqliteRunResult;
  get(...params: P): R | undefined;
  all(...params: P): R[];
}

/**
 * Prepares `sql` once. With `pluck`, rows are the first column's value. The row type is the
 * caller's promise about its own SQL (this is the boundary where rows become typed).
 */
export function prepare<P extends unknown[] = [], R = unknown>(
  db: SqliteDatabase,
  sql: string,
  options: { pluck?: boolean } = {},
): SqliteStatement<P, R> {
  const statement = db.prepare(sql);
  if (options.pluck) statement.pluck();
  return statement as unknown as SqliteStatement<P, R>;
}

/**
 * The file path of a `sqlite://` URL, resolved against the working directory:
 * `sqlite:///relative/path.db` (three slashes) and `sqlite:////absolute/path.db` (four).
 * `db+sqlite://` and `sqla+sqlite://` are accepted too; a query string is ignored.
 */
export function sqlitePathFromUrl(url: string, setting = 'brokerUrl'): string {
  const match = /^(?:(?:db|sqla)\+)?sqlite:\/\/([^?#]*)/i.exec(url);
  const rest = match?.[1] ?? '';
  if (!match || !rest.startsWith('/') || rest.length < 2 || rest === '/:memory:') {
    throw new ConfigError(`${setting} '${url}' does not name a SQLite file`, {
      setting,
      code: 'URL_INVALID',
      hint: 'use sqlite:///relative/path.db (three slashes, relative to the working directory) or sqlite:////absolute/path.db (four)',
    });
  }
  return resolve(decodeURIComponent(rest.slice(1)));
}

/** The URL of a path, for banners and logs. */
export function sqliteUrlOf(path: string): string {
  return `sqlite:///${path}`;
}

/** The write-ahead log next to the database file (watched for wake-ups). */
export function walPathOf(path: string): string {
  return `${path}-wal`;
}

/** Options of {@link openSqliteFile}. */
export interface OpenSqliteOptions {
  /** Milliseconds a writer waits for the lock before SQLITE_BUSY. */
  busyTimeoutMs: number;
  /** What the file is for, in messages: 'broker' or 'result backend'. */
  role: string;
  /** Code for errors other than an unwritable path. */
  unreachableCode: ErrorCode;
  /** Creates or migrates the tables; runs once after the pragmas. */
  init?: (db: SqliteDatabase) => void;
}

const UNWRITABLE = new Set([
  'SQLITE_CANTOPEN',
  'SQLITE_READONLY',
  'SQLITE_PERM',
  'SQLITE_IOERR',
  'SQLITE_FULL',
  'EACCES',
  'EPERM',
  'EROFS',
  'ENOTDIR',
  'EEXIST',
  'ENOSPC',
]);

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/**
 * Opens (creating the folder and file when needed) a SQLite file in WAL mode with
 * `synchronous=NORMAL` and a busy timeout, then runs `init`. An unwritable or non-creatable
 * path gives a ConnectionError with code STORE_UNWRITABLE naming the path and the fix.
 */
export function openSqliteFile(path: string, options: OpenSqliteOptions): SqliteDatabase {
  const folder = dirname(path);
  const unwritable = (cause: unknown, what: string): ConnectionError =>
    new ConnectionError('STORE_UNWRITABLE', `The ${options.role} cannot ${what} ${path}`, {
      cause,
      hint: `make ${folder} writable by this user, or point the URL at a writable file (sqlite:////absolute/path/to/file.db)`,
    });
  try {
    mkdirSync(folder, { recursive: true });
  } catch (error) {
    throw unwritable(error, 'create the folder for');
  }
  let db: SqliteDatabase | undefined;
  try {
    db = new Database(path, { timeout: options.busyTimeoutMs });
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') {
      throw new ConnectionError(
        options.unreachableCode,
        `The ${options.role} file ${path} cannot use write-ahead logging (journal_mode is ${String(mode)})`,
        {
          hint: 'put the file on a local disk; network file systems are not supported',
        },
      );
    }
    db.pragma('synchronous = NORMAL');
    options.init?.(db);
    return db;
  } catch (error) {
    db?.close();
    if (error instanceof ConnectionError) throw error;
    if (UNWRITABLE.has(codeOf(error))) throw unwritable(error, 'write');
    throw new ConnectionError(
      options.unreachableCode,
      `The ${options.role} cannot open ${path}: ${(error as Error).message}`,
      {
        cause: error,
        hint: 'check that the file is a SQLite database made by celeriac, or point the URL at a new file',
      },
    );
  }
}

/** Total time the fine-grained retries of {@link writeTransaction} may take. */
const FINE_RETRY_MS = 25;
/** Its first and longest pause, in ms. */
const FIRST_PAUSE_MS = 0.05;
const LONGEST_PAUSE_MS = 1;
const pauseCell = new Int32Array(new SharedArrayBuffer(4));

/** True for SQLite's "the file is locked by another connection" errors. */
export function isSqliteBusy(error: unknown): boolean {
  const code = codeOf(error);
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

/** Runs a write transaction of one connection; see {@link writeTransactions}. */
export type WriteTransaction = <T>(fn: () => T) => T;

/**
 * `fn` in an IMMEDIATE transaction on `db`, waiting for another process's write lock in short
 * pauses (50 µs, doubling up to 1 ms, for up to {@link FINE_RETRY_MS}) before SQLite's own
 * busy timeout takes over. SQLite's handler sleeps 1 ms, then 2, 5, 10 ms...: with a worker
 * and a client taking turns at the lock every few hundred microseconds, most waits would
 * cost a whole millisecond (measured: 6 in 10 sends of a client one task at a time). Only a
 * BEGIN that found the lock taken is retried: `fn` has not run then. Once the lock is held,
 * `fn` and the COMMIT run with the configured busy timeout.
 */
export function writeTransactions(db: SqliteDatabase, busyTimeoutMs: number): WriteTransaction {
  const noWait = db.prepare('PRAGMA busy_timeout = 0');
  const wait = db.prepare(`PRAGMA busy_timeout = ${Math.max(0, Math.round(busyTimeoutMs))}`);
  return <T>(fn: () => T): T => {
    if (db.inTransaction) return db.transaction(fn).immediate();
    let started = false;
    const tx = db.transaction((): T => {
      started = true;
      wait.get(); // the transaction itself runs with the configured busy timeout
      return fn();
    });
    let pause = FIRST_PAUSE_MS;
    const until = performance.now() + FINE_RETRY_MS;
    for (;;) {
      noWait.get();
      try {
        return tx.immediate();
      } catch (error) {
        if (started || !isSqliteBusy(error)) throw error;
        if (performance.now() + pause > until) break;
      } finally {
        if (!started) wait.get();
      }
      Atomics.wait(pauseCell, 0, 0, pause);
      pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
    }
    return tx.immediate(); // the rest of the wait is SQLite's busy timeout's
  };
}

/**
 * Creates or upgrades one component's tables (broker, results) in an IMMEDIATE transaction, so
 * several processes starting at once do not race. Versions live in `celeriac_schema`, one row
 * per component, since the broker and the result backend may share a file.
 * @throws ConnectionError when the file was written by a newer celeriac.
 */
export function migrateSchema(
  db: SqliteDatabase,
  component: string,
  version: number,
  ddl: string,
  code: ErrorCode,
): void {
  db.transaction(() => {
    db.exec(
      'CREATE TABLE IF NOT EXISTS celeriac_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID',
    );
    const found =
      db
        .prepare<[string], number>('SELECT version FROM celeriac_schema WHERE component = ?')
        .pluck()
        .get(component) ?? 0;
    if (found > version) {
      throw new ConnectionError(
        code,
        `The SQLite ${component} tables were written by a newer celeriac (schema ${found}, this one knows ${version})`,
        {
          hint: 'upgrade celeriac, or point the URL at another file',
        },
      );
    }
    db.exec(ddl);
    if (found < version)
      db.prepare('INSERT OR REPLACE INTO celeriac_schema (component, version) VALUES (?, ?)').run(
        component,
        version,
      );
  }).immediate();
}
