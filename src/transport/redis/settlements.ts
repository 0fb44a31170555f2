/**
 * What settling a consumer's delivery does (the deliveries' owner): the prefetch slot is
 * freed at once, and the write goes to the transport's held-message operations (held.ts).
 * A handed-off delivery (handoff.ts) runs before its record in `unacked` is confirmed; its
 * ack, requeue, deferral or touch waits for that record, so that it cannot overtake it.
 */
import type { DeliveryOwner, RedisDelivery } from './delivery.js';
import type { HandOff } from './handoff.js';
import type { HeldMessages } from './held.js';
import type { PrefetchSlots } from './slots.js';

/** What the settlements need from the transport. */
export interface SettlementHost {
  held: HeldMessages;
  /** Schedules a promotion of deferred messages at `dueAt`. */
  schedulePromote(dueAt: number): void;
}

/** The owner of one consumer's deliveries. */
export class Settlements implements DeliveryOwner {
  constructor(
    private readonly host: SettlementHost,
    private readonly slots: PrefetchSlots,
    private readonly handOff: HandOff | undefined,
    /** A slot was freed: the consumer re-evaluates. */
    private readonly slotFreed: () => void,
  ) {}

  release(delivery: RedisDelivery): void {
    if (this.slots.release(delivery)) this.slotFreed();
  }

  finish(delivery: RedisDelivery): void {
    if (this.slots.finish(delivery)) this.slotFreed();
  }

  ack(delivery: RedisDelivery): Promise<void> {
    return this.afterRecord(delivery, () =>
      this.host.held.ack(delivery.deliveryTag, this.ackIsAwaited(delivery)),
    );
  }

  reject(delivery: RedisDelivery, requeue: boolean): Promise<void> {
    if (!requeue) return this.ack(delivery);
    const put = { tag: delivery.deliveryTag, raw: delivery.raw, key: delivery.sourceKey };
    return this.afterRecord(delivery, async () => {
      await this.host.held.putBack([put], 'L', true);
    });
  }

  defer(delivery: RedisDelivery, dueAt: number): Promise<void> {
    const put = { tag: delivery.deliveryTag, raw: delivery.raw, key: delivery.sourceKey };
    return this.afterRecord(delivery, async () => {
      await this.host.held.defer(put, dueAt);
      this.host.schedulePromote(dueAt);
    });
  }

  touch(delivery: RedisDelivery): Promise<void> {
    return this.afterRecord(delivery, () => this.host.held.touch([delivery.deliveryTag]));
  }

  /** Runs a settlement once a handed-off delivery's record is in `unacked` (at once otherwise). */
  private afterRecord(delivery: RedisDelivery, op: () => Promise<void>): Promise<void> {
    const recorded = this.handOff?.recorded(delivery);
    return recorded ? recorded.then(op) : op();
  }

  /**
   * True when an ack must not wait for a claim to carry it: its task has not finished (an
   * early ack: the task waits for it). The slot it frees (release(), before the ack) starts
   * a claim only when there is something to claim; an idle consumer waits for a push.
   */
  private ackIsAwaited(delivery: RedisDelivery): boolean {
    return !delivery.isFinished;
  }
}
