/**
 * `celeriac/sqlite`: the embedded broker. One SQLite file, shared by every process on this
 * host that opens the same URL; no server to run.
 */
import { sqlitePathFromUrl } from '../../util/sqlite-file.js';
import { sqliteTransportSettings, type SqliteTransportOptions } from './settings.js';
import { SqliteTransport } from './transport.js';

export { SqliteTransport } from './transport.js';
export type { SqliteTransportOptions } from './settings.js';

/**
 * Creates (does not connect) a SQLite transport for `sqlite:///relative/path.db` or
 * `sqlite:////absolute/path.db`. The folder is created on connect. Options: see
 * {@link SqliteTransportOptions}; other keys are ignored.
 */
export function createSqliteTransport(
  url: string,
  options: SqliteTransportOptions | Record<string, unknown> = {},
): SqliteTransport {
  return new SqliteTransport(
    sqlitePathFromUrl(url, 'brokerUrl'),
    sqliteTransportSettings(options as Record<string, unknown>),
  );
}
