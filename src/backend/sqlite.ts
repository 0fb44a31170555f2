/**
 * The embedded result backend (`sqlite:///path.db`): task metas, groups and chord joins in a
 * SQLite file, shareable with the embedded broker's file.
 */
import { ConfigError } from '../errors.js';
import { systemClock, type Clock } from '../util/clock.js';
import { sqlitePathFromUrl } from '../util/sqlite-file.js';
import { SqliteBackend } from './sqlite/backend.js';

export { SqliteBackend } from './sqlite/backend.js';

/** Options of {@link createSqliteBackend}. */
export interface SqliteBackendOptions {
  /** Default TTL of stored metas in seconds (Celery's result_expires); 0 = forever. Default 86400. */
  resultExpires?: number;
  /** Seconds between fallback polls when file notifications are missed (default 0.25). */
  pollingInterval?: number;
  /** Milliseconds a writer waits for SQLite's lock before failing (default 5000). */
  busyTimeout?: number;
  /** Time source for expiry (tests). */
  clock?: Clock;
}

function numberOption(
  options: Record<string, unknown>,
  key: string,
  fallback: number,
  allowZero: boolean,
): number {
  const value = options[key];
  if (value === undefined || value === null) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    (!allowZero && value === 0)
  ) {
    throw new ConfigError(
      `The SQLite result backend option ${key} must be a ${allowZero ? 'non-negative' : 'positive'} number, not ${JSON.stringify(value)}`,
      {
        setting: key,
        hint: 'give a number of seconds (busyTimeout: milliseconds), or leave it out for the default',
      },
    );
  }
  return value;
}

function isClock(value: unknown): value is Clock {
  return typeof value === 'object' && value !== null && typeof (value as Clock).now === 'function';
}

/**
 * Creates (does not connect) a SQLite result backend for `sqlite:///relative/path.db` or
 * `sqlite:////absolute/path.db`. Unknown option keys are ignored (the app passes its whole set).
 */
export function createSqliteBackend(
  url: string,
  options: SqliteBackendOptions | Record<string, unknown> = {},
): SqliteBackend {
  const o = options as Record<string, unknown>;
  const clock = o['clock'];
  return new SqliteBackend(sqlitePathFromUrl(url, 'resultBackend'), {
    resultExpires: numberOption(o, 'resultExpires', 86_400, true),
    pollMs: numberOption(o, 'pollingInterval', 0.25, false) * 1000,
    busyTimeoutMs: numberOption(o, 'busyTimeout', 5000, false),
    clock: isClock(clock) ? clock : systemClock,
  });
}
