/**
 * Coalescing of writes: everything added during one turn of the event loop (or within
 * `delayMs` of the first item) is flushed together (one pipeline, one round trip), at the end
 * of that turn (util/turn.ts).
 *
 * Items added in the same turn share one promise: a draining worker adds an ack and a result
 * per task, and a promise each (with its reactions and, once AsyncLocalStorage is on, its
 * async hooks) cost more than the write itself.
 */
import { atEndOfTurn } from '../../util/turn.js';

/** Items taken out of a batch, with the settlement of the promise their callers hold. */
export interface Taken<T> {
  readonly items: readonly T[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface Round<T> extends Taken<T> {
  readonly items: T[];
  readonly promise: Promise<void>;
}

function newRound<T>(): Round<T> {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { items: [], promise, resolve, reject };
}

/** Items added in the same turn of the event loop, flushed together. */
export class TickBatch<T> {
  private round: Round<T> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** A flush at the end of the turn is scheduled (a stale one finding this false does nothing). */
  private atTurnEnd = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly flushNow = (): void => {
    this.timer = undefined;
    this.atTurnEnd = false;
    void this.flush();
  };
  private readonly turnEnded = (): void => {
    if (this.atTurnEnd) this.flushNow();
  };

  /**
   * `delayMs` 0: the flush runs at the end of the current turn of the loop; more: on a timer
   * that long after the first item, so that a caller who writes them itself ({@link drain})
   * may take them first.
   */
  constructor(
    private readonly flushItems: (items: readonly T[]) => Promise<void>,
    private readonly delayMs = 0,
  ) {}

  /** Number of items not yet flushed. */
  get size(): number {
    return this.round?.items.length ?? 0;
  }

  /** Adds an item; resolves when the flush that carries it succeeded. */
  add(item: T): Promise<void> {
    const round = this.current();
    round.items.push(item);
    return round.promise;
  }

  private current(): Round<T> {
    if (!this.round) {
      this.round = newRound();
      if (this.delayMs > 0) this.timer ??= setTimeout(this.flushNow, this.delayMs);
      else this.flushAtTurnEnd();
    }
    return this.round;
  }

  private flushAtTurnEnd(): void {
    if (this.atTurnEnd) return;
    this.atTurnEnd = true;
    atEndOfTurn(this.turnEnded);
  }

  /** What waits goes out at the end of this turn of the loop instead of after the delay. */
  hurry(): void {
    if (!this.round || this.atTurnEnd) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushAtTurnEnd();
  }

  /** Takes the waiting items out, for a caller that writes them itself (and settles them). */
  drain(): Taken<T> | undefined {
    const taken = this.round;
    this.round = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.atTurnEnd = false;
    return taken;
  }

  /** Puts drained items back (their writer failed); they go out with the next flush. */
  requeue(taken: Taken<T> | undefined): void {
    if (!taken || taken.items.length === 0) return;
    const round = this.current();
    round.items.unshift(...taken.items);
    round.promise.then(taken.resolve, taken.reject);
  }

  /** Flushes now what is waiting, and waits for every flush in flight. */
  async flush(): Promise<void> {
    const round = this.drain();
    if (round && round.items.length > 0) {
      const run = this.flushItems(round.items).then(round.resolve, round.reject);
      this.inFlight.add(run);
      void run.finally(() => this.inFlight.delete(run));
    }
    await Promise.all([...this.inFlight]);
  }
}
