/** Time, injected so that tests never sleep. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** A monotonic time in milliseconds. */
  monotonic(): number;
}

/** The real clock. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  monotonic: () => performance.now(),
});
