/**
 * How one consumer waits for messages when its queues are empty (see waker.ts and
 * DESIGN.md): CLIENT TRACKING invalidations on its own connection, redirected to the
 * transport's waker; or, where the server refuses tracking, kombu's BRPOP with a 1 s timeout
 * (the popped message is then handed to the next claim, which records it in `unacked`).
 */
import type { Redis } from 'ioredis';
import { toError } from '../../errors.js';
import type { KeyLayout } from './keys.js';
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
  private armed: string | undefined;
  private current: 'tracking' | 'brpop';
  /** Set by {@link brpop}; the consumer claims it with its next call, then clears it. */
  prePopped: PrePopped | undefined;

  constructor(
    private readonly client: Redis,
    private readonly waker: InvalidationWaker,
    private readonly layout: KeyLayout,
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
   * Turns tracking on for the queues' keys, if it is not on for exactly them already; true
   * when it was (re)armed now (the caller then looks at its queues once more). Switches to
   * BRPOP, and says true, when the server refuses tracking and the mode is 'auto'.
   */
  async arm(queues: readonly string[]): Promise<boolean> {
    await this.waker.start();
    const prefixes = trackingPrefixes(queues.map((q) => this.layout.queueKey(q)));
    const signature = `${this.waker.generation}|${prefixes.join('\n')}`;
    if (this.armed === signature) return false;
    try {
      if (this.armed !== undefined) await this.client.call('CLIENT', 'TRACKING', 'OFF');
      this.armed = undefined;
      const redirect = String(this.waker.id);
      await this.client.call(
        'CLIENT',
        'TRACKING',
        'ON',
        'REDIRECT',
        redirect,
        'BCAST',
        ...prefixes.flatMap((p) => ['PREFIX', p]),
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

  /** Turns tracking off (the consumer is busy); the command is ordered before the next claim. */
  disarm(): void {
    if (this.armed === undefined) return;
    this.armed = undefined;
    void this.client
      .call('CLIENT', 'TRACKING', 'OFF')
      .catch((err: unknown) => this.onError(toError(err)));
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

/** BCAST prefixes must not overlap: keep the shortest of any that do. */
export function trackingPrefixes(keys: readonly string[]): string[] {
  const sorted = [...new Set(keys)].sort();
  const out: string[] = [];
  for (const key of sorted) if (!out.some((p) => key.startsWith(p))) out.push(key);
  return out;
}

function isServerRefusal(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}
