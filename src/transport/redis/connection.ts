/**
 * ioredis clients for the Redis transport and result backend: created lazily, reconnecting
 * by themselves after the first successful connect (capped backoff), and failing the first
 * connect fast with a ConnectionError that names the URL (password masked) and the fix.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { ConnectionError, toError } from '../../errors.js';
import type { RedisEndpoint } from './url.js';

/** Who is connecting: decides the error code and the wording of the hint. */
export type RedisRole = 'broker' | 'backend';

/** Builds the connections of one transport or backend. */
export class RedisConnector {
  constructor(
    readonly endpoint: RedisEndpoint,
    readonly role: RedisRole,
    /** Seconds the first connect may take. */
    private readonly connectTimeout: number,
    private readonly clientName: string,
  ) {}

  /**
   * A new, not yet connected client. `purpose` ends up in CLIENT SETNAME (`celeriac:<purpose>`).
   * Errors are reported to `onError` (ioredis would print unhandled ones).
   */
  create(
    purpose: string,
    extra: RedisOptions = {},
    onError: (error: Error) => void = () => undefined,
  ): Redis {
    const options: RedisOptions = {
      ...this.endpoint.connection,
      lazyConnect: true,
      connectTimeout: this.connectTimeout * 1000,
      connectionName: `${this.clientName}:${purpose}`,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
      ...extra,
    };
    // RESP2-shaped replies whatever the protocol (the default; spelled out for the typings).
    const client = new Redis({ ...options, replyMapping: 'legacy' });
    client.on('error', onError);
    return client;
  }

  /**
   * Connects `client`, or throws BROKER_UNREACHABLE / BACKEND_UNREACHABLE within the connect
   * timeout and stops it from retrying.
   */
  async open(client: Redis): Promise<void> {
    let lastError: Error | undefined;
    const remember = (error: Error): void => {
      lastError = error;
    };
    client.on('error', remember);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.connect(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.connectTimeout} s`)),
            this.connectTimeout * 1000,
          );
        }),
      ]);
    } catch (err) {
      client.disconnect();
      throw this.unreachable(lastError ?? err);
    } finally {
      clearTimeout(timer);
      client.removeListener('error', remember);
    }
  }

  /** Reported (not thrown) when an established connection drops; ioredis reconnects by itself. */
  lost(): ConnectionError {
    const what = this.role === 'broker' ? 'broker' : 'result backend';
    return new ConnectionError(
      this.role === 'broker' ? 'BROKER_UNREACHABLE' : 'BACKEND_UNREACHABLE',
      `Lost the connection to the Redis ${what} at ${this.endpoint.displayUrl}; reconnecting`,
      { hint: 'nothing to do if it comes back; otherwise check that Redis is running' },
    );
  }

  /** The error thrown when the server cannot be reached. */
  unreachable(cause: unknown): ConnectionError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const what = this.role === 'broker' ? 'broker' : 'result backend';
    const setting = this.role === 'broker' ? 'brokerUrl' : 'resultBackend';
    const where =
      this.endpoint.kind === 'sentinel' ? 'the Sentinels and the master they name' : 'Redis there';
    return new ConnectionError(
      this.role === 'broker' ? 'BROKER_UNREACHABLE' : 'BACKEND_UNREACHABLE',
      `Cannot connect to the Redis ${what} at ${this.endpoint.displayUrl}: ${reason}`,
      {
        cause,
        hint: `start ${where} (e.g. \`redis-server\`), or set ${setting} to a server that is running`,
      },
    );
  }
}

/** Closes a client: QUIT when connected (pending replies arrive first), else just disconnect. */
export async function closeClient(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // fall through to a hard disconnect
    }
  }
  client.disconnect();
}

/** How long a closing transport, consumer or hand-off waits for work in flight before it gives up on it. */
export const CLOSE_GRACE_MS = 3000;

/**
 * Waits for `work` at most `ms` milliseconds (close() must not hang while Redis is away);
 * true when it settled in time. Its rejection is swallowed.
 */
export async function settleWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
/**
 * The same error message more than once within 10 s is reported once: a Redis outage makes
 * every connection report each reconnect attempt.
 */
export function quietErrors(report: (error: Error) => void): (error: Error) => void {
  const last = new Map<string, number>();
  return (error) => {
    const now = Date.now();
    const seen = last.get(error.message);
    if (seen !== undefined && now - seen < 10_000) return;
    last.set(error.message, now);
    if (last.size > 100) last.clear();
    report(error);
  };
}

/**
 * Commands in flight on one connection, abandoned when it drops: ioredis never settles a
 * command that was in flight when its connection closed unless it resends it
 * (redis/ioredis#2193), and a consumer does not resend (autoResendUnfulfilledCommands: false),
 * so without this a claim in flight during a Redis restart would hang its loop for good.
 * Commands issued while disconnected wait in ioredis's offline queue and are sent on
 * reconnect; those are not abandoned.
 */
export class InFlight {
  private readonly rejecters = new Set<(error: Error) => void>();

  constructor(private readonly client: Redis) {}

  /** `work`, or a rejection with the error given to {@link abandon} if that comes first. */
  guard<T>(work: Promise<T>): Promise<T> {
    if (this.client.status !== 'ready') return work;
    return new Promise<T>((resolve, reject) => {
      const abandon = (error: Error): void => {
        this.rejecters.delete(abandon);
        reject(error);
      };
      this.rejecters.add(abandon);
      work.then(
        (value) => {
          this.rejecters.delete(abandon);
          resolve(value);
        },
        (error: unknown) => {
          this.rejecters.delete(abandon);
          reject(toError(error));
        },
      );
    });
  }

  /** Rejects every guarded command still waiting (the connection closed). */
  abandon(error: Error): void {
    for (const reject of [...this.rejecters]) reject(error);
  }
}
