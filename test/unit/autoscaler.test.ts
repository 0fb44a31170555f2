import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Autoscaler, parseAutoscale, type Scalable } from '../../src/worker/autoscaler.js';

function target(concurrency: number): Scalable & { load: number; concurrency: number } {
  const t = {
    concurrency,
    load: 0,
    demand: () => t.load,
    resize: (n: number) => {
      t.concurrency = n;
    },
  };
  return t;
}

describe('autoscale', () => {
  test('grows to the demand, up to max, at once', () => {
    const t = target(2);
    const scaler = new Autoscaler(t, { max: 6, min: 2, now: () => 0 });
    t.load = 4;
    assert.equal(scaler.tick(), 4);
    t.load = 50;
    assert.equal(scaler.tick(), 6);
  });

  test('shrinks one slot per keepalive of low demand, down to min', () => {
    let now = 0;
    const t = target(6);
    const scaler = new Autoscaler(t, { max: 6, min: 2, keepaliveMs: 1000, now: () => now });
    t.load = 0;
    assert.equal(scaler.tick(), 6, 'not before the keepalive');
    now = 1000;
    assert.equal(scaler.tick(), 5);
    now = 1500;
    assert.equal(scaler.tick(), 5);
    now = 2000;
    assert.equal(scaler.tick(), 4);
    now = 10_000;
    scaler.tick();
    now = 11_000;
    scaler.tick();
    now = 12_000;
    assert.equal(scaler.tick(), 2, 'never below min');
  });

  test('parses max,min like Celery and explains a bad value', () => {
    assert.deepEqual(parseAutoscale('10,3'), { max: 10, min: 3 });
    assert.deepEqual(parseAutoscale('4'), { max: 4, min: 1 });
    assert.throws(() => parseAutoscale('3,10'), /must be max,min with 1 <= min <= max/);
  });
});
