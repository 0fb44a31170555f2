/**
 * Coalescing of writes: everything added during one turn of the event loop is flushed
 * together (one pipeline, one round trip), on setImmediate.
 */

/** An item waiting for its flush, with the promise of the caller who added it. */
export interface Pending<T> {
  item: T;
  resolve(): void;
  reject(error: unknown): void;
}

/** Items added in the same turn of the event loop, flushed together. */
export class TickBatch<T> {
  private pending: Array<Pending<T>> = [];
  private scheduled: NodeJS.Immediate | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly flushItems: (items: readonly T[]) => Promise<void>) {}

  /** Number of items not yet flushed. */
  get size(): number {
    return this.pending.length;
  }

  /** Adds an item; resolves when the flush that carries it succeeded. */
  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.scheduled ??= setImmediate(() => {
        this.scheduled = undefined;
        void this.flush();
      });
    });
  }

  /** Takes the waiting items out, for a caller that writes them itself (and settles them). */
  drain(): Array<Pending<T>> {
    const taken = this.pending;
    this.pending = [];
    if (this.scheduled) {
      clearImmediate(this.scheduled);
      this.scheduled = undefined;
    }
    return taken;
  }

  /** Puts drained items back (their writer failed); they go out with the next flush. */
  requeue(items: ReadonlyArray<Pending<T>>): void {
    if (items.length === 0) return;
    this.pending.unshift(...items);
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      void this.flush();
    });
  }

  /** Flushes now what is waiting, and waits for every flush in flight. */
  async flush(): Promise<void> {
    const batch = this.drain();
    if (batch.length > 0) {
      const run = this.flushItems(batch.map((p) => p.item)).then(
        () => batch.forEach((p) => p.resolve()),
        (error: unknown) => batch.forEach((p) => p.reject(error)),
      );
      this.inFlight.add(run);
      void run.finally(() => this.inFlight.delete(run));
    }
    await Promise.all([...this.inFlight]);
  }
}
