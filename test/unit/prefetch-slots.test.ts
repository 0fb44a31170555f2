/** The Redis consumer's prefetch accounting (src/transport/redis/slots.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RedisDelivery } from '../../src/transport/redis/delivery.js';
import { PrefetchSlots } from '../../src/transport/redis/slots.js';

const delivery = (tag: string): RedisDelivery =>
  ({ deliveryTag: tag, isFinished: false }) as unknown as RedisDelivery;

/** What the delivery does itself when its task ends: marks itself, then tells the owner. */
function finish(slots: PrefetchSlots, d: RedisDelivery): boolean {
  (d as { isFinished: boolean }).isFinished = true;
  return slots.finish(d);
}

void test('held deliveries take slots; finished ones stop counting up to the finishing limit', () => {
  const slots = new PrefetchSlots(4, 1);
  const [a, b, c] = [delivery('a'), delivery('b'), delivery('c')];
  for (const d of [a, b, c]) slots.hold(d);
  assert.equal(slots.free(100), 1);
  assert.equal(slots.free(0), 0, 'capped by the claim size');
  assert.equal(finish(slots, a), true, 'the first finished one frees a slot');
  assert.equal(slots.free(100), 2);
  assert.equal(finish(slots, b), false, 'beyond the limit a finished one still counts');
  assert.equal(slots.free(100), 2);
  assert.equal(slots.release(b), true, 'releasing it frees its slot');
  assert.equal(slots.release(a), false, 'a was counted free already');
  assert.equal(slots.free(100), 3);
  assert.deepEqual(slots.tags(), ['c']);
  assert.deepEqual(slots.deliveries(), [c]);
});

void test('a delivery no longer held is not counted as finishing', () => {
  const slots = new PrefetchSlots(2, 2);
  const d = delivery('gone');
  assert.equal(finish(slots, d), false);
  assert.equal(d.isFinished, false, 'release() must not uncount it');
  assert.equal(slots.release(d), true);
  assert.equal(slots.free(10), 2);
});

void test('prefetch 0 means no limit but the claim size; resize keeps the finishing limit when not given', () => {
  const slots = new PrefetchSlots(0, 0);
  slots.hold(delivery('x'));
  assert.equal(slots.free(50), 50);
  slots.resize(1);
  assert.equal(slots.free(50), 0);
  slots.resize(3, 1);
  assert.equal(slots.free(50), 2);
});
