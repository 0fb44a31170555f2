/** Options of the SQLite transport, read from the untyped options the app passes. */
import { ConfigError } from '../../errors.js';

/** Options of {@link createSqliteTransport} (units as Celery's transport options: seconds). */
export interface SqliteTransportOptions {
  /**
   * Seconds a claimed message stays leased to its consumer without renewal (default 30).
   * The consumer renews the leases of what it holds every third of this, so long tasks are not
   * redelivered while their worker lives. Leases decide only for holders on other hosts: a holder
   * on this host is checked directly (its process gone → its messages come back at once).
   */
  visibilityTimeout?: number;
  /** Seconds between fallback polls when file notifications are missed (default 0.25). */
  pollingInterval?: number;
  /** Seconds between checks for dead holders and expired leases (default 1). */
  reapInterval?: number;
  /** Milliseconds a writer waits for SQLite's lock before failing (default 5000). */
  busyTimeout?: number;
}

/** The options with defaults applied, in milliseconds. */
export interface SqliteTransportSettings {
  visibilityMs: number;
  pollMs: number;
  reapMs: number;
  busyTimeoutMs: number;
}

function positive(
  options: Record<string, unknown>,
  key: keyof SqliteTransportOptions,
  fallback: number,
): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(
      `The SQLite transport option ${key} must be a positive number, not ${JSON.stringify(value)}`,
      {
        setting: `brokerTransportOptions.${key}`,
        hint: 'give a number of seconds (busyTimeout: milliseconds), or leave it out for the default',
      },
    );
  }
  return value;
}

/** Validates and converts the options. Unknown keys are ignored (the app passes its whole set). */
export function sqliteTransportSettings(options: Record<string, unknown>): SqliteTransportSettings {
  return {
    visibilityMs: positive(options, 'visibilityTimeout', 30) * 1000,
    pollMs: positive(options, 'pollingInterval', 0.25) * 1000,
    reapMs: positive(options, 'reapInterval', 1) * 1000,
    busyTimeoutMs: positive(options, 'busyTimeout', 5000),
  };
}
