/**
 * Task slots: at most `concurrency` holders at a time, the others wait in order. The worker
 * gates task starts with one (a task is acked early only once it has a slot), and the
 * event-loop pool its own runs.
 *
 * enter()/leave() rather than a run(fn) wrapper: taking a free slot costs no promise and no
 * tick, which a draining worker feels (a wrapper cost it three promises per task).
 */
export class TaskSlots {
  readonly #waiting: Array<() => void> = [];
  #running = 0;
  #limit: number;

  constructor(concurrency: number) {
    this.#limit = Math.max(1, concurrency);
  }

  get concurrency(): number {
    return this.#limit;
  }

  /** Slots held now. */
  get running(): number {
    return this.#running;
  }

  /** Changes the number of slots (autoscale, pool_grow/shrink). */
  resize(concurrency: number): void {
    this.#limit = Math.max(1, concurrency);
    while (this.#running < this.#limit && this.#waiting.length > 0) this.#handOver();
  }

  /**
   * Takes a slot, to be given back with {@link leave}: undefined when one was free (taken
   * now), else the promise of the next free one.
   */
  enter(): Promise<void> | undefined {
    if (this.#running < this.#limit) {
      this.#running++;
      return undefined;
    }
    return new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  /** Gives back a slot taken with {@link enter}: to the next waiter, if any. */
  leave(): void {
    if (this.#waiting.length > 0 && this.#running <= this.#limit) this.#handOver(true);
    else this.#running--;
  }

  /** Gives a slot to the next waiter; `reuse` = the slot of a holder that just left. */
  #handOver(reuse = false): void {
    const next = this.#waiting.shift();
    if (!next) return;
    if (!reuse) this.#running++;
    next();
  }
}
