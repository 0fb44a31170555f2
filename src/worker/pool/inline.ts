/**
 * The event-loop pool: runs tasks in this process, at most `concurrency` at a time.
 * Right for async, I/O-bound tasks; a task that blocks the event loop blocks the worker
 * (the process and thread pools are for those).
 */
export class InlinePool {
  readonly #waiting: Array<() => void> = [];
  #running = 0;
  #limit: number;

  constructor(concurrency: number) {
    this.#limit = Math.max(1, concurrency);
  }

  get concurrency(): number {
    return this.#limit;
  }

  /** Tasks running now. */
  get running(): number {
    return this.#running;
  }

  /** Changes the number of slots (autoscale, pool_grow/shrink). */
  resize(concurrency: number): void {
    this.#limit = Math.max(1, concurrency);
    while (this.#running < this.#limit && this.#waiting.length > 0) this.#handOver();
  }

  /**
   * Runs `fn` when a slot is free. Not an async function: with a free slot `fn` starts at
   * once and its promise gets one `.then` (an async wrapper cost two more promises per task).
   */
  run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) {
      return new Promise<void>((resolve) => this.#waiting.push(resolve)).then(() =>
        this.#runInSlot(fn),
      );
    }
    this.#running++;
    return this.#runInSlot(fn);
  }

  /**
   * Takes a slot for a caller that gives it back itself ({@link leave}): undefined when one
   * was free (taken now, no promise), else the promise of the next free one.
   */
  enter(): Promise<void> | undefined {
    if (this.#running < this.#limit) {
      this.#running++;
      return undefined;
    }
    return new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  /** Gives back a slot taken with {@link enter}. */
  leave(): void {
    this.#release();
  }

  #runInSlot<T>(fn: () => Promise<T>): Promise<T> {
    let work: Promise<T>;
    try {
      work = Promise.resolve(fn());
    } catch (error) {
      this.#release();
      return Promise.reject(error);
    }
    return work.then(
      (value) => {
        this.#release();
        return value;
      },
      (error: unknown) => {
        this.#release();
        throw error;
      },
    );
  }

  #release(): void {
    if (this.#waiting.length > 0 && this.#running <= this.#limit) this.#handOver(true);
    else this.#running--;
  }

  /** Gives a slot to the next waiter; `reuse` = the slot of a runner that just finished. */
  #handOver(reuse = false): void {
    const next = this.#waiting.shift();
    if (!next) return;
    if (!reuse) this.#running++;
    next();
  }
}
