/**
 * Waiting for a condition in a test without a fixed sleep: polls, and fails the test with
 * what it was waiting for once `ms` have passed.
 */
import assert from 'node:assert/strict';

/** Resolves once `check()` holds (polled every `everyMs`); fails after `ms`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 10_000,
  everyMs = 10,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
