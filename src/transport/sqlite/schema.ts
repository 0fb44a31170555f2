/**
 * The SQLite broker's tables and prepared statements.
 *
 * `celeriac_messages` holds every message of every queue; `state` says where it is:
 * 0 ready, 1 held by a consumer (owner + lease), 2 delayed until `due_at`. Partial indexes keep
 * each access path small: ready rows by (queue, pri, id) so a claim reads them in order without
 * sorting the backlog, delayed rows by due time, held rows by owner and by lease.
 * `celeriac_broadcasts` is the recent fanout log (pruned after about a minute);
 * `celeriac_bindings` maps named exchanges to queues.
 */
import { migrateSchema, prepare, type SqliteDatabase } from '../../util/sqlite-file.js';

/** Version of the broker tables written by this code (row 'broker' of celeriac_schema). */
export const SCHEMA_VERSION = 1;

export const READY = 0;
export const HELD = 1;
export const DELAYED = 2;

const DDL = `
CREATE TABLE IF NOT EXISTS celeriac_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  pri INTEGER NOT NULL,
  state INTEGER NOT NULL,
  due_at INTEGER,
  lease_until INTEGER,
  owner TEXT,
  owner_host TEXT,
  owner_pid INTEGER,
  owner_start INTEGER,
  claims INTEGER NOT NULL DEFAULT 0,
  exchange TEXT NOT NULL,
  routing_key TEXT NOT NULL,
  content_type TEXT NOT NULL,
  content_encoding TEXT NOT NULL,
  headers TEXT NOT NULL,
  properties TEXT NOT NULL,
  body BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS celeriac_messages_ready ON celeriac_messages(queue, pri, id) WHERE state = 0;
CREATE INDEX IF NOT EXISTS celeriac_messages_delayed ON celeriac_messages(due_at) WHERE state = 2;
CREATE INDEX IF NOT EXISTS celeriac_messages_held ON celeriac_messages(owner_host, owner_pid, owner_start, owner) WHERE state = 1;
CREATE INDEX IF NOT EXISTS celeriac_messages_lease ON celeriac_messages(lease_until) WHERE state = 1;
CREATE TABLE IF NOT EXISTS celeriac_broadcasts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  exchange TEXT NOT NULL,
  routing_key TEXT NOT NULL,
  content_type TEXT NOT NULL,
  content_encoding TEXT NOT NULL,
  headers TEXT NOT NULL,
  properties TEXT NOT NULL,
  body BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS celeriac_bindings (
  exchange TEXT NOT NULL,
  exchange_type TEXT NOT NULL,
  routing_key TEXT NOT NULL,
  queue TEXT NOT NULL,
  PRIMARY KEY (exchange, routing_key, queue)
) WITHOUT ROWID;
`;

/** Creates the tables (idempotent, safe when several processes start at once). */
export function initBrokerSchema(db: SqliteDatabase): void {
  migrateSchema(db, 'broker', SCHEMA_VERSION, DDL, 'BROKER_UNREACHABLE');
}

/** A message row as claims return it. */
export interface MessageRow {
  id: number;
  pri: number;
  queue: string;
  exchange: string;
  routing_key: string;
  content_type: string;
  content_encoding: string;
  headers: string;
  properties: string;
  body: Buffer;
  claims: number;
}

/** A broadcast row. */
export interface BroadcastRow {
  id: number;
  exchange: string;
  routing_key: string;
  content_type: string;
  content_encoding: string;
  headers: string;
  properties: string;
  body: Buffer;
}

const RETURNING =
  'RETURNING id, pri, queue, exchange, routing_key, content_type, content_encoding, headers, properties, body, claims';
const CLAIM_SET =
  'SET state = 1, owner = @owner, owner_host = @host, owner_pid = @pid, owner_start = @start, lease_until = @lease, claims = claims + 1';
const BY_OWNER = 'owner_host = ? AND owner_pid = ? AND owner_start = ? AND owner = ?';
const UNOWN =
  'owner = NULL, owner_host = NULL, owner_pid = NULL, owner_start = NULL, lease_until = NULL';

/** Every statement the transport runs, prepared once per connection. */
export function prepareBroker(db: SqliteDatabase) {
  return {
    insert: prepare<
      [string, number, string, string, string, string, string, string, Buffer, number]
    >(
      db,
      `INSERT INTO celeriac_messages (queue, pri, state, exchange, routing_key, content_type, content_encoding, headers, properties, body, created_at)
       VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    /** Claim from one queue, all priorities, in (pri, id) order — read straight off the ready index. */
    claimQueue: prepare<[Record<string, string | number>], MessageRow>(
      db,
      `UPDATE celeriac_messages ${CLAIM_SET} WHERE id IN
         (SELECT id FROM celeriac_messages WHERE state = 0 AND queue = @queue ORDER BY pri, id LIMIT @limit) ${RETURNING}`,
    ),
    /** Claim from one queue and one priority bucket (used when several queues are consumed). */
    claimBucket: prepare<[Record<string, string | number>], MessageRow>(
      db,
      `UPDATE celeriac_messages ${CLAIM_SET} WHERE id IN
         (SELECT id FROM celeriac_messages WHERE state = 0 AND queue = @queue AND pri = @pri ORDER BY id LIMIT @limit) ${RETURNING}`,
    ),
    dataVersion: prepare<[], number>(db, 'PRAGMA data_version', { pluck: true }),
    hasReady: prepare<[string], number>(
      db,
      'SELECT 1 FROM celeriac_messages WHERE state = 0 AND queue = ? LIMIT 1',
      { pluck: true },
    ),
    nextDue: prepare<[], number | null>(
      db,
      'SELECT MIN(due_at) FROM celeriac_messages WHERE state = 2',
      { pluck: true },
    ),
    promoteDue: prepare<[number]>(
      db,
      'UPDATE celeriac_messages SET state = 0, due_at = NULL WHERE state = 2 AND due_at <= ?',
    ),
    ack: prepare<[number, string]>(
      db,
      'DELETE FROM celeriac_messages WHERE id = ? AND owner = ? AND state = 1',
    ),
    requeue: prepare<[number, string]>(
      db,
      `UPDATE celeriac_messages SET state = 0, ${UNOWN} WHERE id = ? AND owner = ? AND state = 1`,
    ),
    /** Give back a claim that was never handed out (its consumer closed meanwhile). */
    unclaim: prepare<[number, string]>(
      db,
      `UPDATE celeriac_messages SET state = 0, claims = claims - 1, ${UNOWN} WHERE id = ? AND owner = ? AND state = 1`,
    ),
    defer: prepare<[number, number, string]>(
      db,
      `UPDATE celeriac_messages SET state = 2, due_at = ?, claims = 0, ${UNOWN} WHERE id = ? AND owner = ? AND state = 1`,
    ),
    touch: prepare<[number, number, string]>(
      db,
      'UPDATE celeriac_messages SET lease_until = ? WHERE id = ? AND owner = ? AND state = 1',
    ),
    renewAll: prepare<[number, string, number, number, string]>(
      db,
      `UPDATE celeriac_messages SET lease_until = ? WHERE state = 1 AND ${BY_OWNER}`,
    ),
    releaseOwner: prepare<[string, number, number, string]>(
      db,
      `UPDATE celeriac_messages SET state = 0, ${UNOWN} WHERE state = 1 AND ${BY_OWNER}`,
    ),
    holders: prepare<[], { owner_host: string; owner_pid: number; owner_start: number }>(
      db,
      'SELECT DISTINCT owner_host, owner_pid, owner_start FROM celeriac_messages WHERE state = 1',
    ),
    releaseProcess: prepare<[string, number, number]>(
      db,
      `UPDATE celeriac_messages SET state = 0, ${UNOWN} WHERE state = 1 AND owner_host = ? AND owner_pid = ? AND owner_start = ?`,
    ),
    /** Leases only decide for holders on other hosts; on this host a holder's process is checked directly. */
    anyExpired: prepare<[number, string], number>(
      db,
      'SELECT 1 FROM celeriac_messages WHERE state = 1 AND lease_until < ? AND owner_host != ? LIMIT 1',
      { pluck: true },
    ),
    releaseExpired: prepare<[number, string]>(
      db,
      `UPDATE celeriac_messages SET state = 0, ${UNOWN} WHERE state = 1 AND lease_until < ? AND owner_host != ?`,
    ),
    sizeReady: prepare<[string], number>(
      db,
      'SELECT COUNT(*) FROM celeriac_messages WHERE state = 0 AND queue = ?',
      { pluck: true },
    ),
    sizeDue: prepare<[number, string], number>(
      db,
      'SELECT COUNT(*) FROM celeriac_messages WHERE state = 2 AND due_at <= ? AND queue = ?',
      { pluck: true },
    ),
    purgeReady: prepare<[string]>(
      db,
      'DELETE FROM celeriac_messages WHERE state = 0 AND queue = ?',
    ),
    purgeDelayed: prepare<[string]>(
      db,
      'DELETE FROM celeriac_messages WHERE state = 2 AND queue = ?',
    ),
    bind: prepare<[string, string, string, string]>(
      db,
      'INSERT OR IGNORE INTO celeriac_bindings (exchange, exchange_type, routing_key, queue) VALUES (?, ?, ?, ?)',
    ),
    bindings: prepare<
      [string],
      { exchange: string; exchange_type: string; routing_key: string; queue: string }
    >(
      db,
      'SELECT exchange, exchange_type, routing_key, queue FROM celeriac_bindings WHERE exchange = ?',
    ),
    broadcast: prepare<[string, string, string, string, string, string, Buffer, number]>(
      db,
      `INSERT INTO celeriac_broadcasts (exchange, routing_key, content_type, content_encoding, headers, properties, body, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    lastBroadcast: prepare<[], number | null>(db, 'SELECT MAX(id) FROM celeriac_broadcasts', {
      pluck: true,
    }),
    broadcastsAfter: prepare<[number], BroadcastRow>(
      db,
      `SELECT id, exchange, routing_key, content_type, content_encoding, headers, properties, body
       FROM celeriac_broadcasts WHERE id > ? ORDER BY id LIMIT 500`,
    ),
    pruneBroadcasts: prepare<[number]>(db, 'DELETE FROM celeriac_broadcasts WHERE created_at < ?'),
  };
}

/** The prepared statements of one connection. */
export type BrokerStatements = ReturnType<typeof prepareBroker>;
