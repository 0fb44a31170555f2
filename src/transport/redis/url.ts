/**
 * Redis URLs and transport options, as Celery/kombu spell them, turned into ioredis options.
 *
 * - `redis://[[user]:password@]host[:port][/db]`
 * - `rediss://...` (TLS; CA/cert/key from the options `sslCaCerts`, `sslCertfile`,
 *   `sslKeyfile`, `sslCertReqs`, or the same snake_case names in the URL query, as Celery)
 * - `sentinel://[:password@]host:port[/db];sentinel://host2:port` (master from `masterName`)
 * - `redis+socket:///path/to/redis.sock?virtual_host=0` / `unix:///path` (Unix socket)
 *
 * Option keys are accepted in camelCase or in Celery's snake_case (`visibility_timeout`).
 */
import { readFileSync } from 'node:fs';
import type { RedisOptions } from 'ioredis';
import { ConfigError } from '../../errors.js';

/** Where to connect, as ioredis options (no lifecycle settings), plus what the URL says. */
export interface RedisEndpoint {
  kind: 'standalone' | 'sentinel' | 'socket';
  /** Connection settings for ioredis (host/port or sentinels, auth, db, TLS). */
  connection: RedisOptions;
  /** The database number (part of kombu's fanout channel names). */
  db: number;
  /** The URL with the password masked. */
  displayUrl: string;
}

/** Celery's snake_case option names → camelCase (`visibility_timeout` → `visibilityTimeout`). */
export function normalizeOptions(options: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    out[key.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase())] = value;
  }
  return out;
}

/** The URL with any password replaced by `**` (every `;`-separated part). */
export function maskRedisUrl(url: string): string {
  return url
    .split(';')
    .map((part) =>
      part.replace(
        /^([a-z0-9+.-]+:\/\/)([^:@/]*):([^@/]*)@/i,
        (_m, s: string, u: string) => `${s}${u}:**@`,
      ),
    )
    .join(';');
}

/**
 * Parses a broker/backend URL with its (normalized or raw) options.
 * @throws ConfigError (URL_INVALID) naming the problem and the fix.
 */
export function parseRedisUrl(
  url: string,
  rawOptions: Record<string, unknown>,
  setting: string,
): RedisEndpoint {
  const options = normalizeOptions(rawOptions);
  const displayUrl = maskRedisUrl(url);
  const scheme = /^([a-z0-9+.-]+):\/\//i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'redis':
    case 'rediss':
      return standalone(url, scheme === 'rediss', options, setting, displayUrl);
    case 'sentinel':
      return sentinel(url, options, setting, displayUrl);
    case 'redis+socket':
    case 'unix':
    case 'socket':
      return unixSocket(url, options, setting, displayUrl);
    case undefined:
    default:
      throw invalid(
        setting,
        displayUrl,
        'the scheme is not redis://, rediss://, sentinel:// or redis+socket://',
      );
  }
}

function standalone(
  url: string,
  tlsScheme: boolean,
  options: Record<string, unknown>,
  setting: string,
  displayUrl: string,
): RedisEndpoint {
  const u = parseUrl(url, setting, displayUrl);
  const db = dbOf(u.pathname, u.searchParams, setting, displayUrl);
  const connection: RedisOptions = {
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db,
    ...auth(u),
  };
  const query = normalizeOptions(Object.fromEntries(u.searchParams));
  const tls = tlsOptions({ ...query, ...options }, tlsScheme);
  if (tls) connection.tls = tls;
  return { kind: 'standalone', connection, db, displayUrl };
}

function sentinel(
  url: string,
  options: Record<string, unknown>,
  setting: string,
  displayUrl: string,
): RedisEndpoint {
  const parts = url
    .split(';')
    .map((p) => p.trim())
    .filter(Boolean);
  const sentinels: Array<{ host: string; port: number }> = [];
  let first: URL | undefined;
  for (const part of parts) {
    if (!/^sentinel:\/\//i.test(part)) {
      throw invalid(
        setting,
        displayUrl,
        `'${maskRedisUrl(part)}' in the list is not a sentinel:// URL`,
      );
    }
    const u = parseUrl(part, setting, displayUrl);
    first ??= u;
    sentinels.push({
      host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
      port: u.port ? Number(u.port) : 26379,
    });
  }
  if (!first) throw invalid(setting, displayUrl, 'no sentinel address is given');
  const name = options['masterName'];
  if (typeof name !== 'string' || name === '') {
    throw new ConfigError(`${setting} '${displayUrl}' uses Sentinel but no master name is set`, {
      setting,
      code: 'CONFIG_INVALID',
      hint: "set the transport option masterName (Celery's master_name), e.g. { masterName: 'mymaster' }",
    });
  }
  const db = dbOf(first.pathname, first.searchParams, setting, displayUrl);
  const connection: RedisOptions = { sentinels, name, db, ...auth(first) };
  const kwargs = options['sentinelKwargs'];
  if (kwargs && typeof kwargs === 'object') {
    const k = normalizeOptions(kwargs as Record<string, unknown>);
    if (typeof k['password'] === 'string') connection.sentinelPassword = k['password'];
    if (typeof k['username'] === 'string') connection.sentinelUsername = k['username'];
  }
  if (typeof options['sentinelPassword'] === 'string')
    connection.sentinelPassword = options['sentinelPassword'];
  const tls = tlsOptions(options, false);
  if (tls) {
    connection.tls = tls;
    connection.enableTLSForSentinelMode = true;
  }
  return { kind: 'sentinel', connection, db, displayUrl };
}

function unixSocket(
  url: string,
  options: Record<string, unknown>,
  setting: string,
  displayUrl: string,
): RedisEndpoint {
  const u = parseUrl(url.replace(/^[a-z0-9+.-]+:\/\//i, 'redis://'), setting, displayUrl);
  const path = decodeURIComponent(u.pathname);
  if (!path || path === '/') throw invalid(setting, displayUrl, 'the socket path is missing');
  const db = dbOf('', u.searchParams, setting, displayUrl);
  const connection: RedisOptions = { path, db, ...auth(u) };
  void options;
  return { kind: 'socket', connection, db, displayUrl };
}

function parseUrl(url: string, setting: string, displayUrl: string): URL {
  try {
    return new URL(url);
  } catch (cause) {
    throw invalid(setting, displayUrl, 'it cannot be parsed', cause);
  }
}

function auth(u: URL): Pick<RedisOptions, 'username' | 'password'> {
  const out: Pick<RedisOptions, 'username' | 'password'> = {};
  if (u.password) out.password = decodeURIComponent(u.password);
  if (u.username && u.password) out.username = decodeURIComponent(u.username);
  else if (u.username && !u.password) out.password = decodeURIComponent(u.username);
  return out;
}

function dbOf(
  pathname: string,
  query: URLSearchParams,
  setting: string,
  displayUrl: string,
): number {
  const raw = pathname.replace(/^\//, '') || query.get('virtual_host') || query.get('db') || '0';
  const db = Number(raw);
  if (!Number.isInteger(db) || db < 0) {
    throw invalid(
      setting,
      displayUrl,
      `the database '${raw}' is not a number (redis://host:6379/0)`,
    );
  }
  return db;
}

/** TLS settings from Celery's ssl_* names; undefined when TLS is not asked for. */
function tlsOptions(
  options: Record<string, unknown>,
  tlsScheme: boolean,
): RedisOptions['tls'] | undefined {
  const nested = options['ssl'];
  const o =
    nested && typeof nested === 'object'
      ? { ...normalizeOptions(nested as Record<string, unknown>), ...options }
      : options;
  const ca = o['sslCaCerts'];
  const cert = o['sslCertfile'];
  const key = o['sslKeyfile'];
  const reqs = o['sslCertReqs'];
  const wanted =
    tlsScheme || nested === true || ca !== undefined || cert !== undefined || key !== undefined;
  if (!wanted) return undefined;
  const tls: NonNullable<RedisOptions['tls']> = {};
  if (typeof ca === 'string') tls.ca = readPem(ca, 'sslCaCerts');
  if (typeof cert === 'string') tls.cert = readPem(cert, 'sslCertfile');
  if (typeof key === 'string') tls.key = readPem(key, 'sslKeyfile');
  const none = typeof reqs === 'string' && /^(cert_)?none$/i.test(reqs);
  if (none) tls.rejectUnauthorized = false;
  return tls;
}

function readPem(path: string, option: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new ConfigError(`The TLS file '${path}' (${option}) cannot be read`, {
      setting: option,
      code: 'CONFIG_INVALID',
      cause,
      hint: `check the path given in the transport option ${option}`,
    });
  }
}

function invalid(setting: string, displayUrl: string, why: string, cause?: unknown): ConfigError {
  return new ConfigError(`${setting} '${displayUrl}' is not a valid Redis URL: ${why}`, {
    setting,
    code: 'URL_INVALID',
    cause,
    hint: 'use redis://[:password@]host:6379/0, rediss://..., or sentinel://host:26379;sentinel://host2:26379',
  });
}
