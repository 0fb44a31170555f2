import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RateLimiter, type LimiterClock } from '../../src/worker/rate-limit.js';

function fakeClock(): LimiterClock & { t: number; sleeps: number[] } {
  const clock = {
    t: 0,
    sleeps: [] as number[],
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.sleeps.push(ms);
      clock.t += ms;
    },
  };
  return clock;
}

describe('rate limits', () => {
  test('an abort ends the wait at once (a stopping worker leaves no sleeping timer behind)', async () => {
    const limiter = new RateLimiter(); // the real clock
    await limiter.acquire('t', '1/m');
    const controller = new AbortController();
    let waited = false;
    const second = limiter.acquire('t', '1/m', controller.signal).then(() => (waited = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(waited, false, 'the second start waits a minute');
    controller.abort(new Error('worker shutting down'));
    let guard: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      second.then(() => 'ended'),
      new Promise((r) => (guard = setTimeout(() => r('still waiting'), 5000))),
    ]);
    clearTimeout(guard);
    assert.equal(outcome, 'ended');
  });

  test("'10/s' spaces task starts 100 ms apart", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(clock);
    const starts: number[] = [];
    for (let i = 0; i < 4; i++) {
      await limiter.acquire('tasks.add', '10/s');
      starts.push(clock.t);
    }
    assert.deepEqual(starts, [0, 100, 200, 300]);
  });

  test("'60/m' and '3600/h' are one per second", async () => {
    for (const limit of ['60/m', '3600/h']) {
      const clock = fakeClock();
      const limiter = new RateLimiter(clock);
      await limiter.acquire('t', limit);
      await limiter.acquire('t', limit);
      assert.equal(Math.round(clock.t), 1000, limit);
    }
  });

  test('no limit never waits; a run-time change takes effect on the next task', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(clock);
    await limiter.acquire('t', null);
    await limiter.acquire('t', null);
    assert.equal(clock.t, 0);
    limiter.set('t', '2/s');
    await limiter.acquire('t', null);
    await limiter.acquire('t', null);
    assert.equal(clock.t, 500);
    limiter.set('t', null);
    await limiter.acquire('t', '1/s');
    await limiter.acquire('t', '1/s');
    assert.equal(clock.t, 500, 'a run-time null overrides the configured limit');
  });

  test('limits are per task name', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(clock);
    await limiter.acquire('a', '1/s');
    await limiter.acquire('b', '1/s');
    assert.equal(clock.t, 0);
  });

  test('a malformed limit names the accepted forms', () => {
    const limiter = new RateLimiter(fakeClock());
    assert.throws(() => limiter.set('t', 'abc/x'), /invalid rate limit 'abc\/x'.*'10\/s'/);
  });
});
