/**
 * Builds transports and result backends from URLs. Drivers are imported lazily, so a user
 * of one broker never loads another's client library.
 */
import type { ResultBackend } from '../backend/types.js';
import { ConfigError } from '../errors.js';
import type { Transport } from '../transport/types.js';

/** The embedded default: one SQLite file, relative to the working directory. */
export const DEFAULT_SQLITE_URL = 'sqlite:///.celeriac/celeriac.db';

type Scheme =
  | 'memory'
  | 'sqlite'
  | 'redis'
  | 'rediss'
  | 'sentinel'
  | 'amqp'
  | 'amqps'
  | 'pyamqp'
  | 'rpc'
  | 'disabled';

/** The scheme of a URL, validated. Throws ConfigError naming the setting and the fix. */
export function schemeOf(url: string, setting: string): Scheme {
  const match = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  const scheme = match?.[1]?.toLowerCase().replace(/^(sqla|db)\+/, '');
  switch (scheme) {
    case 'memory':
    case 'sqlite':
    case 'redis':
    case 'rediss':
    case 'sentinel':
    case 'amqp':
    case 'amqps':
    case 'pyamqp':
    case 'rpc':
    case 'disabled':
      return scheme;
    case undefined:
    default:
      throw new ConfigError(`${setting} '${url}' is not a URL celeriac can use`, {
        setting,
        code: 'URL_INVALID',
        hint: 'use sqlite:///path/to/file.db (embedded), redis://host:6379/0, or memory:// (one process)',
      });
  }
}

/** Creates (does not connect) the transport for a broker URL. */
export async function createTransport(
  url: string,
  options: Record<string, unknown>,
): Promise<Transport> {
  const scheme = schemeOf(url, 'brokerUrl');
  switch (scheme) {
    case 'memory': {
      const { MemoryTransport } = await import('../transport/memory.js');
      return new MemoryTransport(options);
    }
    case 'sqlite': {
      const { createSqliteTransport } = await import('../transport/sqlite/index.js');
      return createSqliteTransport(url, options);
    }
    case 'redis':
    case 'rediss':
    case 'sentinel': {
      const { createRedisTransport } = await import('../transport/redis/index.js');
      return createRedisTransport(url, options);
    }
    case 'amqp':
    case 'amqps':
    case 'pyamqp':
    case 'rpc':
    case 'disabled':
      throw new ConfigError(`The ${scheme}:// broker is not supported yet`, {
        setting: 'brokerUrl',
        code: 'TRANSPORT_UNSUPPORTED',
        hint: 'use redis:// or the embedded sqlite:// broker',
      });
  }
}

/** Creates (does not connect) the result backend for a URL; null = results disabled. */
export async function createBackend(
  url: string,
  options: Record<string, unknown>,
): Promise<ResultBackend | null> {
  const scheme = schemeOf(url, 'resultBackend');
  switch (scheme) {
    case 'disabled':
      return null;
    case 'memory': {
      const { MemoryBackend } = await import('../backend/memory.js');
      return new MemoryBackend(options);
    }
    case 'sqlite': {
      const { createSqliteBackend } = await import('../backend/sqlite.js');
      return createSqliteBackend(url, options);
    }
    case 'redis':
    case 'rediss':
    case 'sentinel': {
      const { createRedisBackend } = await import('../backend/redis.js');
      return createRedisBackend(url, options);
    }
    case 'amqp':
    case 'amqps':
    case 'pyamqp':
    case 'rpc':
      throw new ConfigError(`The ${scheme}:// result backend is not supported yet`, {
        setting: 'resultBackend',
        code: 'TRANSPORT_UNSUPPORTED',
        hint: 'use redis:// or the embedded sqlite:// store',
      });
  }
}

/** A URL with its password masked, for banners and logs. */
export function maskUrl(url: string): string {
  return url.replace(
    /^([a-z0-9+.-]+:\/\/)([^:@/]*):([^@/]*)@/i,
    (_m, scheme: string, user: string) => `${scheme}${user}:**@`,
  );
}
