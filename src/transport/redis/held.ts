/**
 * Operations on messages handed out (kombu's `unacked` hash + `unacked_index`), on the
 * transport's main connection: acks and touches coalesced per tick, requeues and deferrals
 * as one Lua script each.
 */
import type { Redis } from 'ioredis';
import { markRedelivered } from '../../protocol/kombu-envelope.js';
import { jsonLoads } from '../../serialization/json.js';
import { TickBatch, type Taken } from './batch.js';
import type { KeyLayout } from './keys.js';
import { DEFER, RESTORE } from './scripts.js';

/** A message to put back on a list. */
export interface PutBack {
  tag: string;
  /** The envelope as it was claimed. */
  raw: string;
  /** The list key to push it to. */
  key: string;
}

/** Epoch seconds as kombu writes them into `unacked_index` (float). */
export function epochSeconds(ms = Date.now()): string {
  return (ms / 1000).toFixed(6);
}

/** Seconds the redelivery counts hash lives after its last write. */
export const REDELIVERY_COUNT_TTL = 7 * 86_400;

/** The held-message operations of one transport. */
export class HeldMessages {
  private readonly acks: TickBatch<string>;
  private readonly touches: TickBatch<string>;

  /**
   * `ackDelayMs`: how long an ack may wait for a consumer's claim to carry it before it goes
   * out on its own. An idle worker's next claim follows the next push, usually well within
   * 2 ms: one write per task fewer. A crash in that window redelivers a finished task (at
   * least once, as ever).
   */
  constructor(
    private readonly main: Redis,
    private readonly layout: KeyLayout,
    ackDelayMs = 0,
  ) {
    this.acks = new TickBatch((tags) => this.writeAcks(tags), ackDelayMs);
    this.touches = new TickBatch((tags) => this.writeTouches(tags));
  }

  /**
   * Removes a message for good (ZREM unacked_index + HDEL unacked): with the next claim, or
   * within the ack delay in one pipeline; `soon`: on the next turn of the loop (an ack
   * that something waits for, such as an early ack before its task runs).
   */
  ack(tag: string, soon = false): Promise<void> {
    const acked = this.acks.add(tag);
    if (soon) this.acks.hurry();
    return acked;
  }

  /** Acks not yet written, taken out by a consumer that sends them with its next claim. */
  takeAcks(): Taken<string> | undefined {
    return this.acks.drain();
  }

  /** Gives taken acks back (their claim failed); they go out on the main connection. */
  returnAcks(acks: Taken<string> | undefined): void {
    this.acks.requeue(acks);
  }

  private async writeAcks(tags: readonly string[]): Promise<void> {
    await this.main
      .pipeline()
      .zrem(this.layout.unackedIndex, ...tags)
      .hdel(this.layout.unacked, ...tags)
      .hdel(this.layout.redeliveries, ...tags)
      .exec()
      .then(throwFirst);
  }

  /** Refreshes the `unacked_index` score of held messages (ZADD XX), coalesced per tick. */
  touch(tags: readonly string[]): Promise<void> {
    return Promise.all(tags.map((tag) => this.touches.add(tag))).then(() => undefined);
  }

  private async writeTouches(tags: readonly string[]): Promise<void> {
    const now = epochSeconds();
    const args: string[] = [];
    for (const tag of new Set(tags)) args.push(now, tag);
    await this.main.zadd(this.layout.unackedIndex, 'XX', ...args);
  }

  /**
   * Puts held messages back (kombu's restore_by_tag): `side` 'L' = LPUSH (back of the queue,
   * kombu's reject(requeue=True)), 'R' = RPUSH (served next, kombu's restore at shutdown).
   * `redelivered` marks the envelope as kombu does and counts a redelivery; without it the
   * envelope goes back untouched (a message claimed but never handed to anyone).
   */
  async putBack(items: readonly PutBack[], side: 'L' | 'R', redelivered: boolean): Promise<number> {
    if (items.length === 0) return 0;
    const args: string[] = ['owned', '0', side, redelivered ? String(REDELIVERY_COUNT_TTL) : '0'];
    for (const item of items)
      args.push(item.tag, item.key, redelivered ? redeliveredRaw(item.raw) : item.raw);
    return Number(
      await RESTORE.run(
        this.main,
        [this.layout.unacked, this.layout.unackedIndex, this.layout.redeliveries],
        args,
      ),
    );
  }

  /** Moves a held message to the due-time store; false when it was no longer held. */
  async defer(item: PutBack, dueAt: number): Promise<boolean> {
    const keys = [
      this.layout.unacked,
      this.layout.unackedIndex,
      this.layout.delayed,
      this.layout.delayedMessages,
    ];
    return (
      Number(
        await DEFER.run(this.main, keys, [item.tag, String(Math.round(dueAt)), item.key, item.raw]),
      ) === 1
    );
  }

  /** Writes whatever is still waiting. */
  async flush(): Promise<void> {
    await Promise.all([this.acks.flush(), this.touches.flush()]);
  }
}

/** The envelope with kombu's redelivered flags; unchanged when it is not a JSON object. */
export function redeliveredRaw(raw: string): string {
  try {
    const parsed = jsonLoads(raw);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return markRedelivered(parsed as Record<string, unknown>);
    }
  } catch {
    // not JSON: put it back as it was
  }
  return raw;
}

/** Throws the first error of a pipeline's results. */
export function throwFirst(results: Array<[Error | null, unknown]> | null): void {
  for (const [error] of results ?? []) if (error) throw error;
}
