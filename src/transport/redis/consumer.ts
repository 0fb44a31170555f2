/**
 * A Redis consumer: one loop on a connection of its own.
 *
 * - claim: one Lua script pops up to the free prefetch slots (priority steps first, then
 *   queues, rotated round-robin) and records them in `unacked`/`unacked_index` in the same
 *   atomic step; acks waiting to be written ride along in the same call.
 * - wake-up when the queues are empty: CLIENT TRACKING invalidations (see wakeup.ts): arm,
 *   claim once more, reading the drained lists last (closes the race, and makes Redis tell us
 *   of their next write), then sleep until a write to one of our keys, a freed
 *   slot that matters, a promotion, or `idleRecheckInterval` (a safety re-check, also the
 *   liveness beat). Servers that refuse CLIENT TRACKING get kombu's BRPOP (1 s) instead;
 *   the popped message is then claimed with the next script call (kombu's window remains).
 * - reconnects: ioredis reconnects; commands in flight fail and are retried by the loop,
 *   tracking is re-armed (the waker's connection id changes), nothing is resent blindly.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { toError } from '../../errors.js';
import type { ConsumeOptions, Consumer } from '../types.js';
import {
  CLOSE_GRACE_MS,
  closeClient,
  InFlight,
  quietErrors,
  settleWithin,
  type RedisConnector,
} from './connection.js';
import { deliveryOf, handedOffDelivery, type RedisDelivery } from './delivery.js';
import { Settlements } from './settlements.js';
import { claim, forgetClaims, reclaim, type ClaimId, type Claimed } from './claim.js';
import type { Taken } from './batch.js';
import { HandOff, type HandOffOwner } from './handoff.js';
import type { HeldMessages } from './held.js';
import type { KeyLayout } from './keys.js';
import type { RedisTransportSettings } from './options.js';
import { PrefetchSlots } from './slots.js';
import type { InvalidationWaker } from './waker.js';
import { WakeUp, type ConsumeKey, type PrePopped } from './wakeup.js';

/** What a consumer needs from its transport. */
export interface ConsumerHost {
  connector: RedisConnector;
  layout: KeyLayout;
  settings: RedisTransportSettings;
  held: HeldMessages;
  waker: InvalidationWaker;
  /** Schedules a promotion of deferred messages at `dueAt`. */
  schedulePromote(dueAt: number): void;
  consumerClosed(consumer: RedisConsumer): void;
}

/** A claim sent, not answered yet. */
interface SentClaim {
  readonly reply: Promise<Claimed[]>;
  readonly want: number;
  readonly acks: Taken<string> | undefined;
  readonly who: ClaimId;
  readonly keys: ConsumeKey[];
  /** The message a BRPOP wake-up popped, which this claim records. */
  readonly prePopped: PrePopped | undefined;
}

/** A running Redis consumer. */
export class RedisConsumer implements Consumer {
  private queueList: string[];
  private readonly slots: PrefetchSlots;
  private readonly client: Redis;
  private readonly onDelivery: ConsumeOptions['onDelivery'];
  private readonly onMalformed: ConsumeOptions['onMalformed'];
  private readonly onError: (error: Error) => void;
  /** Every dropped message is reported (onError itself is quieted per message text). */
  private readonly reportMalformed: (error: Error) => void;
  private running = true;
  private closing: Promise<void> | undefined;
  /** A write to one of our keys may have happened since the last claim was sent. */
  private wakePending = true;
  private poke: (() => void) | undefined;
  private readonly wakeUp: WakeUp;
  private lastCycleAt = Date.now();
  /** The first connect succeeded (later losses are reported, and ioredis reconnects). */
  private connected = false;
  private readonly loop: Promise<void>;
  private readonly unlisten: () => void;
  /** The commands sent on our connection and not answered yet: abandoned when it drops. */
  private readonly inFlight: InFlight;
  private keySet = new Set<string>();
  /** Names this consumer's claim record (claim.ts). */
  private readonly consumerId = randomUUID();
  private claims = 0;
  /** A claim that failed without an answer: it may have run (see recoverLostClaim()). */
  private unsure: { who: ClaimId; keys: ConsumeKey[] } | undefined;
  /** BLMOVE hand-off of the next message while idle (handoff.ts); undefined when off. */
  private readonly handOff: HandOff | undefined;
  /** What settling a delivery does (its owner). */
  private readonly settlements: Settlements;

  constructor(
    private readonly host: ConsumerHost,
    options: ConsumeOptions,
  ) {
    this.queueList = [...new Set(options.queues)];
    this.slots = new PrefetchSlots(options.prefetch, options.finishing ?? 0);
    this.onDelivery = options.onDelivery;
    this.onMalformed = options.onMalformed;
    this.onError = quietErrors(options.onError ?? (() => undefined));
    this.reportMalformed = options.onError ?? (() => undefined);
    this.client = host.connector.create(
      'consumer',
      { maxRetriesPerRequest: null, autoResendUnfulfilledCommands: false },
      (err) => this.onError(err),
    );
    this.inFlight = new InFlight(this.client);
    this.wakeUp = new WakeUp(this.client, host.waker, host.settings.wakeMode, this.onError);
    this.handOff =
      host.settings.handOff && host.settings.wakeMode !== 'brpop'
        ? new HandOff(host, this.consumerId, this.handOffOwner())
        : undefined;
    this.settlements = new Settlements(host, this.slots, this.handOff, () => this.nudge());
    this.client.on('ready', () => {
      this.wakeUp.forget();
      this.wake();
    });
    this.client.on('close', () => {
      if (this.running && this.connected) this.onError(host.connector.lost());
      this.inFlight.abandon(host.connector.lost());
    });
    this.refreshKeys();
    this.unlisten = host.waker.listen((keys) => {
      // A push to the list a BLMOVE waits on is handed to it: no claim for that one.
      const blocked = this.handOff?.blockedOn;
      if (keys === null || keys.some((k) => k !== blocked && this.keySet.has(k))) this.wake();
    });
    this.loop = this.run();
  }

  get queues(): readonly string[] {
    return [...this.queueList];
  }

  addQueue(queue: string): void {
    if (this.queueList.includes(queue)) return;
    this.queueList.push(queue);
    this.refreshKeys();
    this.wake();
  }

  cancelQueue(queue: string): void {
    this.queueList = this.queueList.filter((q) => q !== queue);
    this.refreshKeys();
    this.wake();
  }

  setPrefetch(prefetch: number, finishing?: number): void {
    this.slots.resize(prefetch, finishing);
    this.nudge();
  }

  /**
   * False when the consumer is closed, its connection is not ready (Redis unreachable), or
   * the loop has not completed a fetch cycle for three idle re-check intervals (Redis not
   * answering, or the loop stuck): for liveness probes (Worker.liveness()).
   */
  isHealthy(): boolean {
    return this.healthProblem() === null;
  }

  /** Why {@link isHealthy} is false (null while healthy). */
  healthProblem(): string | null {
    if (!this.running) return 'the consumer is closed';
    if (this.client.status !== 'ready')
      return `the connection to Redis is not ready (${this.client.status})`;
    const window = 3 * this.host.settings.idleRecheckInterval * 1000;
    const idle = Date.now() - this.lastCycleAt;
    if (idle >= window)
      return `the consumer has not completed a fetch from Redis for ${Math.round(idle / 1000)} s (Redis does not answer, or the loop is stuck)`;
    return null;
  }

  /** How an idle consumer is woken: 'tracking' (CLIENT TRACKING) or 'brpop' (fallback). */
  get wakeMode(): 'tracking' | 'brpop' {
    return this.wakeUp.mode;
  }

  /** True once close() was called. */
  get isClosed(): boolean {
    return !this.running;
  }

  /** Reports a transport error (from the shared connections) to this consumer's onError. */
  reportError(error: Error): void {
    this.onError(error);
  }

  /** Delivery tags handed out and not settled. */
  heldTags(): string[] {
    return this.slots.tags();
  }

  /** Deliveries handed out and not settled (the transport restores them when it closes). */
  unsettled(): RedisDelivery[] {
    return this.slots.deliveries();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.running = false;
      this.nudge();
      if (!(await settleWithin(this.loop, CLOSE_GRACE_MS))) {
        // A claim waits for a Redis that is away: give it up (what it may have claimed comes
        // back through the visibility timeout).
        this.client.disconnect();
        await this.loop;
      }
      this.unlisten();
      await this.handOff?.close(this.client);
      await this.wakeUp.returnPrePopped();
      if (!this.unsure && this.client.status === 'ready') {
        await forgetClaims(this.client, this.host.layout, this.consumerId).catch((err: unknown) =>
          this.onError(toError(err)),
        );
      }
      await closeClient(this.client);
      this.host.consumerClosed(this);
    })();
    return this.closing;
  }

  // ---- the loop -------------------------------------------------------------------------

  /** Something may have been written to our queues: claim again. */
  wake(): void {
    this.wakePending = true;
    this.nudge();
  }

  /** Re-evaluate (a slot was freed, the consumer closes, ...). */
  private nudge(): void {
    const poke = this.poke;
    this.poke = undefined;
    poke?.();
  }

  /** Sleeps until nudged or `ms` passed; true when nudged. */
  private pause(ms: number): Promise<boolean> {
    if (!this.running) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.poke = undefined;
        resolve(false);
      }, ms);
      this.poke = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  /** Slots for the next claim (see PrefetchSlots.free). */
  private freeSlots(): number {
    return this.slots.free(this.host.settings.claimBatch);
  }

  private async run(): Promise<void> {
    await this.connectLoop();
    const recheckMs = this.host.settings.idleRecheckInterval * 1000;
    let failures = 0;
    while (this.running) {
      if (this.queueList.length === 0 || this.freeSlots() <= 0) {
        await this.pause(recheckMs);
        this.lastCycleAt = Date.now();
        continue;
      }
      let drained: boolean;
      try {
        drained = await this.claimOnce();
        this.lastCycleAt = Date.now();
        failures = 0;
      } catch (err) {
        if (!this.running) break;
        this.onError(toError(err));
        this.wakeUp.forget();
        await this.pause(Math.min(2000, 100 * 2 ** failures++));
        continue;
      }
      if (!drained) continue;
      if (this.wakePending || !this.running) continue;
      try {
        if (this.wakeUp.mode === 'tracking') {
          if (await this.inFlight.guard(this.wakeUp.arm())) continue; // just armed: look once more, then wait
          // Sleep until a write to our keys; a freed slot alone changes nothing while the
          // queues are empty. A timeout is the safety re-check.
          while (!this.wakePending && this.running) {
            this.handOff?.start();
            const woken = await this.pause(recheckMs);
            // Waiting for a write is a healthy cycle too: slots freed by finishing tasks wake
            // this pause again and again without a claim, which must not look like a stall.
            this.lastCycleAt = Date.now();
            if (!woken) break;
          }
        } else if (await this.inFlight.guard(this.wakeUp.brpop(this.consumeKeys()))) {
          this.wakePending = true;
        }
        this.lastCycleAt = Date.now();
      } catch (err) {
        if (!this.running) break;
        this.onError(toError(err));
        this.wakeUp.forget();
        await this.pause(Math.min(2000, 100 * 2 ** failures++));
      }
    }
  }

  private async connectLoop(): Promise<void> {
    for (let attempt = 0; this.running; attempt++) {
      try {
        await this.host.connector.open(this.client);
        this.connected = true;
        return;
      } catch (err) {
        this.onError(toError(err));
        await this.pause(Math.min(5000, 200 * 2 ** attempt));
      }
    }
  }

  /**
   * Claims until the queues have fewer messages than free slots (true: drained) or no slot is
   * free (false). While slots are still free once a full batch is counted as held, the next
   * claim leaves before that batch runs: Redis prepares it while this worker runs the tasks,
   * instead of each waiting for the other (this needs a prefetch above the claim size, e.g.
   * `--prefetch-multiplier 2`).
   */
  private async claimOnce(): Promise<boolean> {
    if (this.unsure) await this.recoverLostClaim(this.unsure);
    const pre = this.wakeUp.prePopped;
    if (pre && !this.consumeKeys().some((k) => k.key === pre.key))
      await this.wakeUp.returnPrePopped(); // its queue was cancelled
    let sent = this.sendClaim();
    while (sent) {
      const claimed = await this.receive(sent);
      const drained = claimed.length < sent.want;
      const batch: RedisDelivery[] = [];
      for (const c of claimed) {
        const delivery = this.register(c);
        if (delivery) batch.push(delivery);
      }
      const ahead =
        drained || !this.running || this.wakeUp.prePopped ? undefined : this.sendClaim();
      for (const delivery of batch) this.dispatch(delivery);
      if (!ahead) return drained;
      sent = ahead;
    }
    return false;
  }

  /** Sends a claim for the free slots; undefined when none is free. */
  private sendClaim(): SentClaim | undefined {
    const want = this.freeSlots();
    if (want <= 0) return undefined;
    const keys = this.consumeKeys();
    this.rotate();
    const acks = this.host.held.takeAcks();
    this.wakePending = false;
    const who: ClaimId = {
      consumer: this.consumerId,
      id: String(++this.claims),
      ttl: this.host.settings.visibilityTimeout,
    };
    const prePopped = this.wakeUp.prePopped;
    const reply = this.inFlight.guard(
      claim(
        this.client,
        this.host.layout,
        keys,
        want,
        acks?.items ?? [],
        prePopped,
        who,
        this.wakeUp.mode === 'tracking' && this.wakeUp.isArmed,
      ),
    );
    // A claim sent ahead is awaited only after the batch before it ran.
    reply.catch(() => undefined);
    return { reply, want, acks, who, keys, prePopped };
  }

  /** The messages of a sent claim; when it fails, its acks go back and it may have run. */
  private async receive(sent: SentClaim): Promise<Claimed[]> {
    let claimed: Claimed[];
    try {
      claimed = await sent.reply;
    } catch (err) {
      this.host.held.returnAcks(sent.acks);
      this.unsure = { who: sent.who, keys: sent.keys };
      throw err;
    }
    if (sent.prePopped && this.wakeUp.prePopped === sent.prePopped)
      this.wakeUp.prePopped = undefined;
    sent.acks?.resolve();
    return claimed;
  }

  /**
   * A claim whose reply was lost (Redis restarted or the connection dropped while it was in
   * flight) may have run: its messages would then sit in `unacked`, held by no one, until the
   * visibility timeout. The claim record hands them to us now; nothing when it never ran.
   */
  private async recoverLostClaim(lost: { who: ClaimId; keys: ConsumeKey[] }): Promise<void> {
    const found = await this.inFlight.guard(
      reclaim(this.client, this.host.layout, lost.keys, lost.who),
    );
    this.unsure = undefined;
    if (found.length > 0) this.wakeUp.prePopped = undefined; // the lost claim recorded it
    for (const c of found) this.handOut(c);
  }

  private handOut(claimed: Claimed): void {
    const delivery = this.register(claimed);
    if (delivery) this.dispatch(delivery);
  }

  /** The held delivery of a claimed message; undefined when it was dealt with already. */
  private register(claimed: Claimed): RedisDelivery | undefined {
    const put = { tag: claimed.tag, raw: claimed.raw, key: claimed.source?.key ?? '' };
    if (!this.running) {
      // Claimed after close() began: never handed to anyone, so back to the front, untouched.
      void this.host.held
        .putBack([put], 'R', false)
        .catch((err: unknown) => this.onError(toError(err)));
      return undefined;
    }
    const { delivery, malformed } = deliveryOf(claimed, this.settlements);
    if (malformed && !this.onMalformed) {
      void this.host.held.ack(claimed.tag);
      this.reportMalformed(malformed);
      return undefined;
    }
    this.slots.hold(delivery);
    if (!malformed) return delivery;
    try {
      this.onMalformed!(delivery, malformed);
    } catch (err) {
      this.onError(toError(err));
    }
    return undefined;
  }

  /** What the hand-off asks of its consumer (handoff.ts). */
  private handOffOwner(): HandOffOwner {
    return {
      handOffKey: () =>
        this.running &&
        this.queueList.length === 1 &&
        this.wakeUp.mode === 'tracking' &&
        this.freeSlots() > 0
          ? this.consumeKeys()[0]
          : undefined,
      serves: (key) => this.keySet.has(key),
      adopt: (raw, source) => {
        if (!this.running) return undefined; // the record brings it back to register()
        const delivery = handedOffDelivery(raw, source, this.settlements);
        if (!delivery || this.slots.holds(delivery.deliveryTag)) return undefined;
        this.slots.hold(delivery);
        return delivery;
      },
      dispatch: (delivery) => this.dispatch(delivery),
      handOut: (claimed) => this.handOut(claimed),
      wake: () => this.wake(),
      onError: (error) => this.onError(error),
    };
  }

  private dispatch(delivery: RedisDelivery): void {
    try {
      this.onDelivery(delivery);
    } catch (err) {
      this.onError(toError(err));
    }
  }

  private consumeKeys(): ConsumeKey[] {
    return this.host.layout.consumeKeys(this.queueList);
  }

  /** Round-robin between queues of the same priority, as kombu's queue cycle. */
  private rotate(): void {
    if (this.queueList.length > 1) this.queueList.push(this.queueList.shift()!);
  }

  private refreshKeys(): void {
    this.keySet = new Set(this.consumeKeys().map((k) => k.key));
    this.handOff?.retarget(this.client);
  }
}
