/**
 * A consumer of the SQLite transport: its queues, its prefetch window and whether its queues
 * may hold work. Claiming is done by the transport's pump, in batches, for all consumers at once.
 */
import type { ConsumeOptions, Consumer, Delivery } from '../types.js';

/** What a consumer needs from its transport. */
export interface ConsumerHost {
  /** Something changed for this consumer: run the pump soon. */
  kick(): void;
  removeConsumer(consumer: SqliteConsumer): void;
  /** Why the transport cannot hand out messages now; null when it can. */
  pumpProblem(): string | null;
}

/** Claims per transaction when prefetch is 0 (no limit). */
const UNLIMITED_BATCH = 256;

/** @internal */
export class SqliteConsumer implements Consumer {
  private list: string[];
  private prefetch: number;
  private rotation = 0;
  /** Deliveries handed out and not yet settled. */
  held = 0;
  /** Held deliveries whose task finished (Delivery.finished()), awaiting their settlement. */
  private finishing = 0;
  /** Finished deliveries allowed on top of prefetch (ConsumeOptions.finishing). */
  private finishingLimit: number;
  open = true;
  /** False once a claim found the queues drained; set again by any sign of new work. */
  mayHaveWork = true;

  constructor(
    private readonly host: ConsumerHost,
    private readonly options: ConsumeOptions,
  ) {
    this.list = [...new Set(options.queues)];
    this.prefetch = options.prefetch;
    this.finishingLimit = Math.max(0, options.finishing ?? 0);
  }

  get queues(): readonly string[] {
    return this.list;
  }

  /** How many more deliveries it may take now. */
  free(): number {
    if (!this.open || this.list.length === 0) return 0;
    if (this.prefetch <= 0) return UNLIMITED_BATCH;
    const reserved = this.held - Math.min(this.finishing, this.finishingLimit);
    return Math.max(0, this.prefetch - reserved);
  }

  /** The queues in the order to claim from this time (rotated round-robin, as kombu does). */
  claimOrder(): string[] {
    const n = this.list.length;
    if (n <= 1) return this.list;
    const start = this.rotation++ % n;
    return [...this.list.slice(start), ...this.list.slice(0, start)];
  }

  /** Hands a delivery to the application. */
  hand(delivery: Delivery): void {
    this.held++;
    try {
      this.options.onDelivery(delivery);
    } catch (error) {
      this.report(error);
    }
  }

  /** A delivery of this consumer was settled: its prefetch slot is free again. */
  release(finished: boolean): void {
    this.held--;
    if (finished) {
      this.finishing--;
      if (this.finishing < this.finishingLimit) return; // its slot was free already
    }
    if (this.open) this.host.kick();
  }

  /** The task of a held delivery ended (it stays held until settled): its slot may be reused. */
  finish(): void {
    this.finishing++;
    if (this.open && this.finishing <= this.finishingLimit) this.host.kick();
  }

  /** Tells the application about a transport error. */
  report(error: unknown): void {
    this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
  }

  addQueue(queue: string): void {
    if (this.list.includes(queue)) return;
    this.list = [...this.list, queue];
    this.mayHaveWork = true;
    this.host.kick();
  }

  cancelQueue(queue: string): void {
    this.list = this.list.filter((q) => q !== queue);
  }

  setPrefetch(prefetch: number, finishing?: number): void {
    this.prefetch = prefetch;
    if (finishing !== undefined) this.finishingLimit = Math.max(0, finishing);
    this.host.kick();
  }

  /** False when closed, or when the transport's pump fails or stalls (see healthProblem). */
  isHealthy(): boolean {
    return this.healthProblem() === null;
  }

  /** Why {@link isHealthy} is false (null while healthy). */
  healthProblem(): string | null {
    return this.open ? this.host.pumpProblem() : 'the consumer is closed';
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.host.removeConsumer(this);
  }
}
