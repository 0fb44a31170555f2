/**
 * The embedded broker: a SQLite file shared by any number of processes on this host.
 *
 * One connection per transport. Writes (publish, ack, reject, defer, lease renewals) are queued
 * and run together with the consumers' claims in one `BEGIN IMMEDIATE` transaction per turn of
 * the event loop (the "pump"), so the write lock is taken rarely and briefly. The pump runs when
 * this connection wrote, when another connection committed (an `fs.watch` on the `-wal` file,
 * a fallback poll, and `PRAGMA data_version` to tell real changes), when the earliest delayed
 * message falls due (one timer), and when a prefetch slot frees. Before taking the write lock
 * for a claim it checks with a plain read that a consumed queue has a ready row.
 */
import { ClosedError } from '../../errors.js';
import type { WireMessage } from '../../protocol/types.js';
import {
  openSqliteFile,
  sqliteUrlOf,
  walPathOf,
  writeTransactions,
  type SqliteDatabase,
  type WriteTransaction,
} from '../../util/sqlite-file.js';
import { FileChangeWatcher } from '../../util/wakeup.js';
import { bindingOf, priorityBucket, resolveQueues, type Binding } from '../routing.js';
import type {
  ConsumeOptions,
  Consumer,
  FanoutHandler,
  PublishOptions,
  QueueSpec,
  Route,
  Subscription,
  Transport,
  TransportCapabilities,
} from '../types.js';
import { claimRows, reclaimOp, type WriteOp } from './claims.js';
import { encodeMessage } from './codec.js';
import { SqliteConsumer, type ConsumerHost } from './consumer.js';
import { FanoutReader } from './fanout.js';
import { HeldDeliveries, type HeldHost } from './held.js';
import { newOwner } from './owner.js';
import { DueTimer, broadcastOp, publishOp } from './writes.js';
import {
  initBrokerSchema,
  prepareBroker,
  type BrokerStatements,
  type MessageRow,
} from './schema.js';
import type { SqliteTransportSettings } from './settings.js';

/** A pump that has not run for this long (and 20 polls) makes consumers unhealthy. */
const STALL_MS = 10_000;

interface PendingOp {
  run: WriteOp;
  resolve(): void;
  reject(error: unknown): void;
}

/** The SQLite transport. Build it with `createSqliteTransport(url, options)`. */
export class SqliteTransport implements Transport, ConsumerHost, HeldHost {
  readonly kind = 'sqlite';
  readonly capabilities: TransportCapabilities = {
    fanout: true,
    priorities: true,
    delayedDelivery: true,
    leases: true,
    multiProcess: true,
  };
  readonly displayUrl: string;
  private readonly owner = newOwner();
  private db: SqliteDatabase | undefined;
  private tx: WriteTransaction | undefined;
  private s: BrokerStatements | undefined;
  private state: 'new' | 'open' | 'closed' = 'new';
  private ops: PendingOp[] = [];
  private opsAddWork = false;
  private pumpQueued = false;
  private dataVersion = -1;
  private readonly consumers = new Set<SqliteConsumer>();
  private readonly held: HeldDeliveries;
  private readonly fanout = new FanoutReader((error) => this.reportError(error));
  private readonly watcher: FileChangeWatcher;
  private readonly dueTimer = new DueTimer(() => this.kick());
  private reapTimer: NodeJS.Timeout | undefined;
  private lastPrune = 0;
  /** When the pump last ran to the end without an error (epoch ms). */
  private lastPumpAt = Date.now();
  /** The error of the last pump, when it failed. */
  private pumpFailure: string | undefined;

  constructor(
    /** Absolute path of the database file. */
    readonly path: string,
    private readonly settings: SqliteTransportSettings,
  ) {
    this.displayUrl = sqliteUrlOf(path);
    this.held = new HeldDeliveries(this, this.owner, settings.visibilityMs);
    this.watcher = new FileChangeWatcher({
      path: walPathOf(path),
      pollMs: settings.pollMs,
      onChange: () => this.kick(),
    });
  }

  /** True after close(). */
  get closed(): boolean {
    return this.state === 'closed';
  }

  async connect(): Promise<void> {
    this.open();
  }

  /** Opens the file on first use; throws ClosedError after close(). */
  private open(): BrokerStatements {
    if (this.state === 'closed') throw new ClosedError(`The SQLite broker ${this.displayUrl}`);
    if (this.s) return this.s;
    const db = openSqliteFile(this.path, {
      busyTimeoutMs: this.settings.busyTimeoutMs,
      role: 'broker',
      unreachableCode: 'BROKER_UNREACHABLE',
      init: initBrokerSchema,
    });
    this.db = db;
    this.tx = writeTransactions(db, this.settings.busyTimeoutMs);
    this.s = prepareBroker(db);
    this.dataVersion = this.s.dataVersion.get() ?? 0;
    this.state = 'open';
    return this.s;
  }

  async declare(queue: QueueSpec): Promise<void> {
    const b = bindingOf(queue);
    this.open().bind.run(b.exchange, b.exchangeType, b.routingKey, b.queue);
  }

  private bindingsOf(s: BrokerStatements, exchange: string): Binding[] {
    return s.bindings.all(exchange).map((r) => ({
      exchange: r.exchange,
      exchangeType:
        r.exchange_type === 'topic' || r.exchange_type === 'fanout' ? r.exchange_type : 'direct',
      routingKey: r.routing_key,
      queue: r.queue,
    }));
  }

  async publish(message: WireMessage, route: Route, options: PublishOptions = {}): Promise<void> {
    const s = this.open();
    const m = encodeMessage(message);
    const pri = priorityBucket(options.priority ?? message.properties.priority);
    const queues =
      route.exchange === ''
        ? [route.routingKey]
        : resolveQueues(route, this.bindingsOf(s, route.exchange));
    if (queues.length === 0) return;
    return this.enqueue(publishOp(queues, pri, route, m), true);
  }

  /** @internal Queues a write for the next pump; resolves once it is committed. */
  enqueue(run: WriteOp, addsWork: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.ops.push({ run, resolve, reject });
      if (addsWork) this.opsAddWork = true;
      this.kick();
    });
  }

  consume(options: ConsumeOptions): Consumer {
    this.open();
    if (this.consumers.size === 0) this.lastPumpAt = Date.now();
    const consumer = new SqliteConsumer(this, options);
    this.consumers.add(consumer);
    this.activity();
    this.reap();
    this.kick();
    return consumer;
  }

  /** @internal */
  removeConsumer(consumer: SqliteConsumer): void {
    this.consumers.delete(consumer);
    this.activity();
  }

  /** @internal Runs the pump on the next turn of the event loop (coalesced). */
  kick(): void {
    if (this.pumpQueued || this.state !== 'open') return;
    this.pumpQueued = true;
    setImmediate(() => this.pump());
  }

  private pump(): void {
    this.pumpQueued = false;
    const s = this.s;
    const tx = this.tx;
    if (this.state !== 'open' || !s || !tx) return;
    const now = Date.now();
    const ops = this.ops;
    this.ops = [];
    let nextDue: number | null = null;
    let wanting: SqliteConsumer[] = [];
    try {
      const version = s.dataVersion.get() ?? 0;
      const external = version !== this.dataVersion;
      this.dataVersion = version;
      if (external) this.fanout.dirty = true;
      nextDue = this.consumers.size > 0 ? (s.nextDue.get() ?? null) : null;
      const promote = nextDue !== null && nextDue <= now;
      if (external || promote || this.opsAddWork)
        for (const c of this.consumers) c.mayHaveWork = true;
      this.opsAddWork = false;
      wanting = [...this.consumers].filter((c) => c.mayHaveWork && c.free() > 0);
      if (ops.length === 0 && !promote) wanting = wanting.filter((c) => this.hasReady(s, c));
      if (ops.length > 0 || promote || wanting.length > 0) {
        const claimed = tx(() => {
          for (const op of ops) op.run(s, now);
          if (promote) s.promoteDue.run(now);
          return wanting.map((c) => claimRows(s, this.owner, now + this.settings.visibilityMs, c));
        });
        for (const op of ops) op.resolve();
        wanting.forEach((c, i) => this.handOut(c, claimed[i] ?? []));
        nextDue = this.consumers.size > 0 ? (s.nextDue.get() ?? null) : null;
      }
      this.fanout.read(s);
      this.lastPumpAt = Date.now();
      this.pumpFailure = undefined;
    } catch (error) {
      this.pumpFailure = error instanceof Error ? error.message : String(error);
      for (const op of ops) op.reject(error);
      this.reportError(error);
    }
    this.armDueTimer(nextDue);
  }

  private hasReady(s: BrokerStatements, c: SqliteConsumer): boolean {
    const any = c.queues.some((q) => s.hasReady.get(q) !== undefined);
    if (!any) c.mayHaveWork = false;
    return any;
  }

  private handOut(c: SqliteConsumer, rows: MessageRow[]): void {
    if (rows.length < c.free()) c.mayHaveWork = false;
    for (const row of rows) {
      if (!c.open) {
        void this.enqueue((s) => s.unclaim.run(row.id, this.owner.id), true).catch(() => undefined);
        continue;
      }
      c.hand(this.held.make(c, row));
    }
    if (rows.length > 0 && c.mayHaveWork && c.free() > 0) this.kick();
  }

  /**
   * @internal Why consumers cannot take messages now (null when they can): the last pump
   * failed (file locked beyond busyTimeout, I/O error), or none ran for a long while although
   * the poll starts one every pollingInterval (the event loop is stalled).
   */
  pumpProblem(): string | null {
    if (this.state !== 'open') return `the SQLite broker ${this.displayUrl} is closed`;
    if (this.pumpFailure !== undefined)
      return `the SQLite broker ${this.displayUrl} fails: ${this.pumpFailure}`;
    const idle = Date.now() - this.lastPumpAt;
    if (idle > Math.max(STALL_MS, 20 * this.settings.pollMs))
      return `the SQLite consumer loop has not run for ${Math.round(idle / 1000)} s`;
    return null;
  }

  /** Gives back messages whose holder died on this host, or whose lease ran out elsewhere. */
  private reap(): void {
    const s = this.s;
    if (!s || this.state !== 'open') return;
    try {
      const op = reclaimOp(s, this.owner.host, Date.now());
      if (op) this.enqueue(op, true).catch(() => undefined);
    } catch (error) {
      this.reportError(error);
    }
  }

  /** Starts or stops the watcher and timers as consumers and subscriptions come and go. */
  private activity(): void {
    const active = this.state === 'open' && (this.consumers.size > 0 || this.fanout.size > 0);
    if (active) this.watcher.start();
    else this.watcher.stop();
    if (this.state === 'open' && this.consumers.size > 0) {
      this.reapTimer ??= setInterval(() => this.reap(), this.settings.reapMs);
    } else {
      clearInterval(this.reapTimer);
      this.reapTimer = undefined;
      this.armDueTimer(null);
    }
  }

  private armDueTimer(at: number | null): void {
    this.dueTimer.arm(this.consumers.size > 0 && this.state === 'open' ? at : null);
  }

  private reportError(error: unknown): void {
    for (const c of this.consumers) c.report(error);
  }

  /** Removes the queue's ready and delayed messages (not those held by consumers). */
  async purge(queue: string): Promise<number> {
    const s = this.open();
    const run = (): number => s.purgeReady.run(queue).changes + s.purgeDelayed.run(queue).changes;
    return this.tx ? this.tx(run) : run();
  }

  async size(queue: string): Promise<number> {
    const s = this.open();
    return (s.sizeReady.get(queue) ?? 0) + (s.sizeDue.get(Date.now(), queue) ?? 0);
  }

  async broadcast(exchange: string, routingKey: string, message: WireMessage): Promise<void> {
    this.open();
    const m = encodeMessage(message);
    this.fanout.dirty = true;
    const prune = Date.now() - this.lastPrune > 5000;
    if (prune) this.lastPrune = Date.now();
    return this.enqueue(broadcastOp(exchange, routingKey, m, prune), false);
  }

  async subscribe(
    exchange: string,
    bindingKey: string,
    handler: FanoutHandler,
  ): Promise<Subscription> {
    const remove = this.fanout.add(this.open(), exchange, bindingKey, handler);
    this.activity();
    return {
      close: async () => {
        remove();
        this.activity();
      },
    };
  }

  /** `await using` support: the same as close(). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Stops consumers and subscriptions, commits queued writes, returns unacked deliveries, closes the file. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    for (const c of this.consumers) c.open = false;
    this.consumers.clear();
    this.fanout.clear();
    this.activity();
    this.held.clear();
    const ops = this.ops;
    this.ops = [];
    const { db, s } = this;
    this.db = undefined;
    this.s = undefined;
    if (!wasOpen || !db || !s) return;
    try {
      const o = this.owner;
      db.transaction(() => {
        for (const op of ops) op.run(s, Date.now());
        s.releaseOwner.run(o.host, o.pid, o.start, o.id);
      }).immediate();
      for (const op of ops) op.resolve();
    } catch (error) {
      for (const op of ops) op.reject(error);
    } finally {
      db.close();
    }
  }
}
