/**
 * The SQLite result backend's tables and statements. Metas are stored as the bytes of
 * Celery's JSON (protocol/result-meta.ts). `seq` grows with every write (from a counter row,
 * so it never goes back even when rows are deleted) and is how waiters find what changed.
 */
import { migrateSchema, prepare, type SqliteDatabase } from '../../util/sqlite-file.js';

/** Version of the result tables written by this code (row 'results' of celeriac_schema). */
export const RESULTS_SCHEMA_VERSION = 1;

const DDL = `
CREATE TABLE IF NOT EXISTS celeriac_results (
  task_id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  meta BLOB NOT NULL,
  expires_at INTEGER,
  seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS celeriac_results_seq ON celeriac_results(seq);
CREATE INDEX IF NOT EXISTS celeriac_results_expires ON celeriac_results(expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS celeriac_result_counter (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
INSERT OR IGNORE INTO celeriac_result_counter (id, seq) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS celeriac_groups (group_id TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at INTEGER);
CREATE TABLE IF NOT EXISTS celeriac_chords (group_id TEXT PRIMARY KEY, size INTEGER, done INTEGER NOT NULL DEFAULT 0, expires_at INTEGER);
CREATE TABLE IF NOT EXISTS celeriac_chord_parts (
  group_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  group_index INTEGER,
  meta BLOB NOT NULL,
  PRIMARY KEY (group_id, task_id)
) WITHOUT ROWID;
`;

/** Creates the tables (idempotent, safe when several processes start at once). */
export function initResultSchema(db: SqliteDatabase): void {
  migrateSchema(db, 'results', RESULTS_SCHEMA_VERSION, DDL, 'BACKEND_UNREACHABLE');
}

/** A stored meta. */
export interface ResultRow {
  task_id: string;
  meta: Buffer;
  expires_at: number | null;
  seq: number;
}

/** Every statement the backend runs, prepared once per connection. */
export function prepareResults(db: SqliteDatabase) {
  return {
    dataVersion: prepare<[], number>(db, 'PRAGMA data_version', { pluck: true }),
    nextSeq: prepare<[], number>(
      db,
      'UPDATE celeriac_result_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq',
      { pluck: true },
    ),
    maxSeq: prepare<[], number>(db, 'SELECT seq FROM celeriac_result_counter WHERE id = 1', {
      pluck: true,
    }),
    /** Upsert that never replaces a live SUCCESS. */
    store: prepare<
      [
        {
          id: string;
          status: string;
          meta: Buffer;
          expires: number | null;
          seq: number;
          now: number;
        },
      ]
    >(
      db,
      `INSERT INTO celeriac_results (task_id, status, meta, expires_at, seq) VALUES (@id, @status, @meta, @expires, @seq)
       ON CONFLICT (task_id) DO UPDATE SET status = excluded.status, meta = excluded.meta, expires_at = excluded.expires_at, seq = excluded.seq
       WHERE celeriac_results.status != 'SUCCESS' OR (celeriac_results.expires_at IS NOT NULL AND celeriac_results.expires_at <= @now)`,
    ),
    get: prepare<[string], ResultRow>(
      db,
      'SELECT task_id, meta, expires_at, seq FROM celeriac_results WHERE task_id = ?',
    ),
    changedOne: prepare<[string, number, number], ResultRow>(
      db,
      'SELECT task_id, meta, expires_at, seq FROM celeriac_results WHERE task_id = ? AND seq > ? AND seq <= ?',
    ),
    changedAll: prepare<[number, number], ResultRow>(
      db,
      'SELECT task_id, meta, expires_at, seq FROM celeriac_results WHERE seq > ? AND seq <= ? ORDER BY seq',
    ),
    forget: prepare<[string]>(db, 'DELETE FROM celeriac_results WHERE task_id = ?'),
    anyExpired: prepare<[number, number, number], number>(
      db,
      `SELECT 1 WHERE EXISTS (SELECT 1 FROM celeriac_results WHERE expires_at <= ?)
         OR EXISTS (SELECT 1 FROM celeriac_groups WHERE expires_at <= ?)
         OR EXISTS (SELECT 1 FROM celeriac_chords WHERE expires_at <= ?)`,
      { pluck: true },
    ),
    expireResults: prepare<[number]>(db, 'DELETE FROM celeriac_results WHERE expires_at <= ?'),
    expireGroups: prepare<[number]>(db, 'DELETE FROM celeriac_groups WHERE expires_at <= ?'),
    expireChordParts: prepare<[number]>(
      db,
      'DELETE FROM celeriac_chord_parts WHERE group_id IN (SELECT group_id FROM celeriac_chords WHERE expires_at <= ?)',
    ),
    expireChords: prepare<[number]>(db, 'DELETE FROM celeriac_chords WHERE expires_at <= ?'),
    saveGroup: prepare<[string, string, number | null]>(
      db,
      'INSERT OR REPLACE INTO celeriac_groups (group_id, data, expires_at) VALUES (?, ?, ?)',
    ),
    getGroup: prepare<[string], { data: string; expires_at: number | null }>(
      db,
      'SELECT data, expires_at FROM celeriac_groups WHERE group_id = ?',
    ),
    forgetGroup: prepare<[string]>(db, 'DELETE FROM celeriac_groups WHERE group_id = ?'),
    setChordSize: prepare<[string, number, number | null]>(
      db,
      `INSERT INTO celeriac_chords (group_id, size, done, expires_at) VALUES (?, ?, 0, ?)
       ON CONFLICT (group_id) DO UPDATE SET size = excluded.size, expires_at = excluded.expires_at`,
    ),
    addPart: prepare<[string, string, number | null, Buffer]>(
      db,
      'INSERT OR REPLACE INTO celeriac_chord_parts (group_id, task_id, group_index, meta) VALUES (?, ?, ?, ?)',
    ),
    chord: prepare<[string], { size: number | null; done: number }>(
      db,
      'SELECT size, done FROM celeriac_chords WHERE group_id = ?',
    ),
    countParts: prepare<[string], number>(
      db,
      'SELECT COUNT(*) FROM celeriac_chord_parts WHERE group_id = ?',
      { pluck: true },
    ),
    markDone: prepare<[string]>(
      db,
      'UPDATE celeriac_chords SET done = 1 WHERE group_id = ? AND done = 0',
    ),
    parts: prepare<[string], { meta: Buffer }>(
      db,
      'SELECT meta FROM celeriac_chord_parts WHERE group_id = ? ORDER BY group_index IS NULL, group_index, task_id',
    ),
    dropChord: prepare<[string]>(db, 'DELETE FROM celeriac_chords WHERE group_id = ?'),
    dropParts: prepare<[string]>(db, 'DELETE FROM celeriac_chord_parts WHERE group_id = ?'),
  };
}

/** The prepared statements of one connection. */
export type ResultStatements = ReturnType<typeof prepareResults>;
