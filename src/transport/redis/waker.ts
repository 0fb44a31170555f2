/**
 * Wake-ups of idle consumers without polling and without a loss window.
 *
 * kombu blocks in `BRPOP`, which pops the message before the consumer has recorded it in
 * `unacked`: a crash (or a lost reply) in between loses it. celeriac claims only with a Lua
 * script (pop + `unacked` + `unacked_index` at once) and learns that an empty queue got a
 * message from Redis' client-side-caching invalidations (Redis ≥ 6): the consumer's
 * connection runs `CLIENT TRACKING ON REDIRECT <this connection> NOLOOP`, and its claim reads
 * the lists it found empty; this connection (subscribed to `__redis__:invalidate`, RESP2)
 * then hears of the next write to each of them: an LPUSH from anyone, Python included (see
 * wakeup.ts). Nothing is popped by the wake-up itself, so nothing can be lost; a spurious
 * wake-up costs one empty claim.
 *
 * This class is the shared listening connection; consumers register for their keys.
 */
import type { Redis } from 'ioredis';
import { toError } from '../../errors.js';
import { closeClient, type RedisConnector } from './connection.js';

/** Told about written keys (`null`: everything may have changed, e.g. a reconnect or FLUSHDB). */
export type InvalidationListener = (keys: readonly string[] | null) => void;

/** The `__redis__:invalidate` subscriber of one transport. */
export class InvalidationWaker {
  private client: Redis | undefined;
  private readonly listeners = new Set<InvalidationListener>();
  private clientId: number | undefined;
  /** Bumped on every (re)subscription: trackers armed for an older one must re-arm. */
  generation = 0;
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly connector: RedisConnector,
    private readonly onError: (error: Error) => void,
  ) {}

  /** The client id to REDIRECT invalidations to, once subscribed. */
  get id(): number | undefined {
    return this.clientId;
  }

  /** Connects and subscribes (idempotent); resolves once invalidations can be received. */
  start(): Promise<void> {
    this.starting ??= this.open().catch((err: unknown) => {
      this.starting = undefined; // try again next time
      throw err;
    });
    return this.starting;
  }

  private async open(): Promise<void> {
    if (this.client) await closeClient(this.client);
    const client = this.connector.create(
      'waker',
      { protocol: 2, autoResubscribe: false, maxRetriesPerRequest: null },
      this.onError,
    );
    this.client = client;
    client.on('messageBuffer', (channel: Buffer, message: unknown) => {
      if (channel.toString() !== '__redis__:invalidate') return;
      const keys = Array.isArray(message) ? message.map((k) => String(k)) : null;
      this.notify(keys);
    });
    client.on('ready', () => {
      if (this.closed || this.clientId === undefined) return;
      void this.subscribe(client).catch((err: unknown) => this.onError(toError(err)));
    });
    await this.connector.open(client);
    await this.subscribe(client);
  }

  /** CLIENT ID, then SUBSCRIBE (CLIENT ID is refused in subscriber mode under RESP2). */
  private async subscribe(client: Redis): Promise<void> {
    this.clientId = await client.client('ID');
    await client.subscribe('__redis__:invalidate');
    this.generation++;
    this.notify(null);
  }

  /** Calls `listener` on invalidations; returns the unregister function. */
  listen(listener: InvalidationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(keys: readonly string[] | null): void {
    for (const listener of [...this.listeners]) listener(keys);
  }

  /** Disconnects. */
  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    await this.starting?.catch(() => undefined);
    if (this.client) await closeClient(this.client);
  }
}
