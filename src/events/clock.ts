/**
 * The logical (Lamport) clock every Celery app keeps (spec §0.3): sending an event or a
 * remote control message moves it forward, receiving one merges the sender's value.
 */

/** A Lamport clock. One per app (no module state). */
export class LamportClock {
  #value: number;

  constructor(initial = 0) {
    this.#value = initial;
  }

  /** The current value. */
  get value(): number {
    return this.#value;
  }

  /** Advances the clock for something we send; returns the new value. */
  forward(): number {
    return ++this.#value;
  }

  /** Merges a received value: `max(own, other) + 1`; returns the new value. */
  adjust(other: number): number {
    const v = Number.isFinite(other) ? other : 0;
    this.#value = Math.max(this.#value, v) + 1;
    return this.#value;
  }
}
