/**
 * How one consumer waits for messages when its queues are empty (see waker.ts and
 * DESIGN.md): CLIENT TRACKING invalidations on its own connection, redirected to the
 * transport's waker; or, where the server refuses tracking, kombu's BRPOP with a 1 s timeout
 * (the popped message is then handed to the next claim, which records it in `unacked`).
 *
 * Tracking runs in Redis' default mode, not BCAST: Redis remembers the keys this connection
 * reads and invalidates each once, at its next write by another connection. A claim that
 * drains the queues reads them last (LLEN, in the same script), so exactly the next push to
 * one of them wakes us. Prefixes (BCAST) would also match `celery-task-meta-*` for the queue
 * `celery`, waking every idle worker at every result stored in the cluster, and Redis 7.0
 * sends BCAST trackers the invalidations of their own scripts' pops despite NOLOOP.
 */
import type { Redis } from 'ioredis';
import { toError } from '../../errors.js';
import type { WakeMode } from './options.js';
import type { InvalidationWaker } from './waker.js';

/** A list key a consumer serves, and its queue. */
export interface ConsumeKey {
  key: string;
  queue: string;
}

/** A message taken by the BRPOP fallback and not yet recorded in `unacked`. */
export interface PrePopped {
  key: string;
  raw: string;
}

/** The wake-up state of one consumer connection. */
export class WakeUp {
  /** The waker generation tracking was turned on for (undefined: off). */
  private armed: number | undefined;
  private current: 'tracking' | 'brpop';
  /** Set by {@link brpop}; the consumer claims it with its next call, then clears it. */
  prePopped: PrePopped | undefined;

  constructor(
    private readonly client: Redis,
    private readonly waker: InvalidationWaker,
    private readonly wanted: WakeMode,
    private readonly onError: (error: Error) => void,
  ) {
    this.current = wanted === 'brpop' ? 'brpop' : 'tracking';
  }

  /** True while tracking is on for the consumer's keys. */
  get isArmed(): boolean {
    return this.armed !== undefined;
  }

  /** 'tracking' or 'brpop'. */
  get mode(): 'tracking' | 'brpop' {
    return this.current;
  }

  /** The connection was re-established (or failed): tracking must be turned on again. */
  forget(): void {
    this.armed = undefined;
  }

  /**
   * Turns tracking on for this connection, if it is not on already for the current waker
   * connection; true when it was turned on now (the caller then claims once more, with
   * `track`, so that the queues are read with tracking on). Switches to BRPOP, and says true,
   * when the server refuses tracking and the mode is 'auto'.
   */
  async arm(): Promise<boolean> {
    await this.waker.start();
    const signature = this.waker.generation;
    if (this.armed === signature) return false;
    try {
      // A new waker connection (its id is the REDIRECT target): off first, then on again.
      if (this.armed !== undefined) await this.client.call('CLIENT', 'TRACKING', 'OFF');
      this.armed = undefined;
      await this.client.call(
        'CLIENT',
        'TRACKING',
        'ON',
        'REDIRECT',
        String(this.waker.id),
        'NOLOOP',
      );
    } catch (err) {
      if (this.wanted === 'auto' && isServerRefusal(err)) {
        this.current = 'brpop';
        this.onError(
          new Error(
            `CLIENT TRACKING is refused (${toError(err).message}); idle consumers fall back to BRPOP`,
          ),
        );
        return true;
      }
      throw err;
    }
    this.armed = signature;
    return true;
  }

  /** The fallback: BRPOP the keys for up to 1 s; true when a message was popped (see {@link prePopped}). */
  async brpop(keys: readonly ConsumeKey[]): Promise<boolean> {
    const reply = await this.client.brpop(...keys.map((k) => k.key), 1);
    if (!reply) return false;
    this.prePopped = { key: reply[0], raw: reply[1] };
    return true;
  }

  /** Puts a popped, unclaimed message back where it came from (its queue was cancelled, or close()). */
  async returnPrePopped(): Promise<void> {
    const pre = this.prePopped;
    this.prePopped = undefined;
    if (pre)
      await this.client.rpush(pre.key, pre.raw).catch((err: unknown) => this.onError(toError(err)));
  }
}

function isServerRefusal(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}
