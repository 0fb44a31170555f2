/**
 * A consumer's prefetch accounting: the deliveries it holds (handed out, not settled), and
 * how many claim slots are free. A finished delivery (its task ended; its result is being
 * stored and it awaits its ack) stops counting against prefetch, up to `finishingLimit` of
 * them, so that the next claim can overlap the result store.
 */
import type { RedisDelivery } from './delivery.js';

export class PrefetchSlots {
  private readonly held = new Map<string, RedisDelivery>();
  /** Held deliveries whose task finished (delivery.finished()), not settled yet. */
  private finishing = 0;

  constructor(
    private prefetch: number,
    /** Finished deliveries allowed on top of prefetch. */
    private finishingLimit: number,
  ) {
    this.resize(prefetch, finishingLimit);
  }

  resize(prefetch: number, finishingLimit?: number): void {
    this.prefetch = Math.max(0, prefetch);
    if (finishingLimit !== undefined) this.finishingLimit = Math.max(0, finishingLimit);
  }

  /** True while a delivery with this tag is held. */
  holds(tag: string): boolean {
    return this.held.has(tag);
  }

  hold(delivery: RedisDelivery): void {
    this.held.set(delivery.deliveryTag, delivery);
  }

  /** Forgets a settled delivery; true when that freed a slot. */
  release(delivery: RedisDelivery): boolean {
    this.held.delete(delivery.deliveryTag);
    if (delivery.isFinished) {
      this.finishing--;
      // Its slot was free already unless more than finishingLimit were finishing.
      if (this.finishing < this.finishingLimit) return false;
    }
    return true;
  }

  /** Counts a delivery's task as finished; true when that freed a slot. */
  finish(delivery: RedisDelivery): boolean {
    if (!this.held.has(delivery.deliveryTag)) {
      delivery.isFinished = false; // not counted: release() must not uncount it
      return false;
    }
    this.finishing++;
    return this.finishing <= this.finishingLimit;
  }

  /**
   * Slots for the next claim, at most `cap`: prefetch minus the held deliveries whose task has
   * not finished; finished ones count only beyond finishingLimit. Prefetch 0: no limit.
   */
  free(cap: number): number {
    if (this.prefetch === 0) return cap;
    const reserved = this.held.size - Math.min(this.finishing, this.finishingLimit);
    return Math.min(cap, this.prefetch - reserved);
  }

  tags(): string[] {
    return [...this.held.keys()];
  }

  deliveries(): RedisDelivery[] {
    return [...this.held.values()];
  }
}
