/**
 * A Redis consumer: one loop on a connection of its own.
 *
 * - claim: one Lua script pops up to the free prefetch slots (priority steps first, then
 *   queues, rotated round-robin) and records them in `unacked`/`unacked_index` in the same
 *   atomic step; acks waiting to be written ride along in the same call.
 * - wake-up when the queues are empty: CLIENT TRACKING invalidations (see waker.ts): arm,
 *   claim once more (closes the race), then sleep until a write to one of our keys, a freed
 *   slot that matters, a promotion, or `idleRecheckInterval` (a safety re-check, also the
 *   liveness beat). Servers that refuse CLIENT TRACKING get kombu's BRPOP (1 s) instead;
 *   the popped message is then claimed with the next script call (kombu's window remains).
 * - reconnects: ioredis reconnects; commands in flight fail and are retried by the loop,
 *   tracking is re-armed (the waker's connection id changes), nothing is resent blindly.
 */
import type { Redis } from 'ioredis';
import { MessageMalformedError, toError } from '../../errors.js';
import { decodeEnvelope } from '../../protocol/kombu-envelope.js';
import type { ConsumeOptions, Consumer } from '../types.js';
import type { Pending } from './batch.js';
import { closeClient, settleWithin, type RedisConnector } from './connection.js';
import { RedisDelivery, type DeliveryOwner } from './delivery.js';
import { epochSeconds, type HeldMessages } from './held.js';
import type { KeyLayout } from './keys.js';
import type { RedisTransportSettings } from './options.js';
import { CLAIM } from './scripts.js';
import type { InvalidationWaker } from './waker.js';

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

/** How long close() waits for a claim in flight before it drops the connection. */
const CLOSE_GRACE_MS = 3000;

interface ConsumeKey {
  key: string;
  queue: string;
}

/** A running Redis consumer. */
export class RedisConsumer implements Consumer, DeliveryOwner {
  private queueList: string[];
  private prefetch: number;
  private readonly held = new Map<string, RedisDelivery>();
  private readonly client: Redis;
  private readonly onDelivery: ConsumeOptions['onDelivery'];
  private readonly onError: (error: Error) => void;
  private running = true;
  private closing: Promise<void> | undefined;
  /** A write to one of our keys may have happened since the last claim was sent. */
  private wakePending = true;
  private poke: (() => void) | undefined;
  /** `<waker generation>|<prefixes>` of the tracking currently on, or undefined. */
  private armed: string | undefined;
  private mode: 'tracking' | 'brpop';
  /** A message popped by BRPOP (fallback mode) and not yet claimed. */
  private prePopped: { key: string; raw: string } | undefined;
  private lastCycleAt = Date.now();
  private readonly loop: Promise<void>;
  private readonly unlisten: () => void;
  private keySet = new Set<string>();

  constructor(
    private readonly host: ConsumerHost,
    options: ConsumeOptions,
  ) {
    this.queueList = [...new Set(options.queues)];
    this.prefetch = Math.max(0, options.prefetch);
    this.onDelivery = options.onDelivery;
    this.onError = quieted(options.onError ?? (() => undefined));
    this.mode = host.settings.wakeMode === 'brpop' ? 'brpop' : 'tracking';
    this.client = host.connector.create(
      'consumer',
      { maxRetriesPerRequest: null, autoResendUnfulfilledCommands: false },
      (err) => this.onError(err),
    );
    this.client.on('ready', () => {
      this.armed = undefined;
      this.wake();
    });
    this.refreshKeys();
    this.unlisten = host.waker.listen((keys) => {
      if (keys === null || keys.some((k) => this.keySet.has(k))) this.wake();
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

  setPrefetch(prefetch: number): void {
    this.prefetch = Math.max(0, prefetch);
    this.nudge();
  }

  /**
   * False when the loop has not completed a fetch cycle for three idle re-check intervals
   * (Redis unreachable or not answering, or the loop stuck): for liveness probes.
   */
  isHealthy(): boolean {
    const window = 3 * this.host.settings.idleRecheckInterval * 1000;
    return this.running && this.client.status === 'ready' && Date.now() - this.lastCycleAt < window;
  }

  /** How an idle consumer is woken: 'tracking' (CLIENT TRACKING) or 'brpop' (fallback). */
  get wakeMode(): 'tracking' | 'brpop' {
    return this.mode;
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
    return [...this.held.keys()];
  }

  /** Deliveries handed out and not settled (the transport restores them when it closes). */
  unsettled(): RedisDelivery[] {
    return [...this.held.values()];
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
      if (this.prePopped) await this.returnPrePopped(this.prePopped);
      await closeClient(this.client);
      this.host.consumerClosed(this);
    })();
    return this.closing;
  }

  // ---- DeliveryOwner --------------------------------------------------------------------

  release(delivery: RedisDelivery): void {
    this.held.delete(delivery.deliveryTag);
    this.nudge();
  }

  ack(delivery: RedisDelivery): Promise<void> {
    return this.host.held.ack(delivery.deliveryTag);
  }

  async reject(delivery: RedisDelivery, requeue: boolean): Promise<void> {
    if (!requeue) return this.host.held.ack(delivery.deliveryTag);
    const put = { tag: delivery.deliveryTag, raw: delivery.raw, key: delivery.sourceKey };
    await this.host.held.putBack([put], 'L', true);
  }

  async defer(delivery: RedisDelivery, dueAt: number): Promise<void> {
    await this.host.held.defer({ tag: delivery.deliveryTag, raw: delivery.raw, key: delivery.sourceKey }, dueAt);
    this.host.schedulePromote(dueAt);
  }

  touch(delivery: RedisDelivery): Promise<void> {
    return this.host.held.touch([delivery.deliveryTag]);
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

  private freeSlots(): number {
    const cap = this.host.settings.claimBatch;
    return this.prefetch === 0 ? cap : Math.min(cap, this.prefetch - this.held.size);
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
        this.armed = undefined;
        await this.pause(Math.min(2000, 100 * 2 ** failures++));
        continue;
      }
      if (!drained) {
        this.disarm();
        continue;
      }
      if (this.wakePending || !this.running) continue;
      try {
        if (this.mode === 'tracking') {
          if (await this.arm()) continue; // just armed: look once more, then wait
          // Sleep until a write to our keys; a freed slot alone changes nothing while the
          // queues are empty. A timeout is the safety re-check.
          while (!this.wakePending && this.running) {
            if (!(await this.pause(recheckMs))) break;
          }
        } else {
          await this.brpopWake();
        }
      } catch (err) {
        if (!this.running) break;
        this.onError(toError(err));
        this.armed = undefined;
        await this.pause(Math.min(2000, 100 * 2 ** failures++));
      }
    }
  }

  private async connectLoop(): Promise<void> {
    for (let attempt = 0; this.running; attempt++) {
      try {
        await this.host.connector.open(this.client);
        return;
      } catch (err) {
        this.onError(toError(err));
        await this.pause(Math.min(5000, 200 * 2 ** attempt));
      }
    }
  }

  /** One claim; true when the queues had fewer messages than free slots (drained). */
  private async claimOnce(): Promise<boolean> {
    const want = this.freeSlots();
    const keys = this.consumeKeys();
    this.rotate();
    const { layout } = this.host;
    let pre = this.prePopped;
    const preNo = pre ? keys.findIndex((k) => k.key === pre!.key) + 1 : 0;
    if (pre && preNo === 0) {
      // Its queue was cancelled meanwhile: back to where it came from.
      await this.returnPrePopped(pre);
      pre = undefined;
    }
    const acks = this.host.held.takeAcks();
    this.wakePending = false;
    let reply: unknown;
    try {
      const args: Array<string | number> = [epochSeconds(), want, acks.length, ...acks.map((a) => a.item)];
      if (pre) args.push(preNo, pre.raw);
      reply = await CLAIM.run(this.client, [layout.unacked, layout.unackedIndex, layout.redeliveries, ...keys.map((k) => k.key)], args);
    } catch (err) {
      this.host.held.returnAcks(acks);
      throw err;
    }
    this.prePopped = undefined;
    settle(acks);
    const flat = Array.isArray(reply) ? (reply as unknown[]) : [];
    const count = flat.length / 4;
    for (let i = 0; i < flat.length; i += 4) {
      const source = keys[Number(flat[i]) - 1];
      this.handOut(source, String(flat[i + 1]), String(flat[i + 2]), Number(flat[i + 3]));
    }
    return count < want;
  }

  private handOut(source: ConsumeKey | undefined, raw: string, tag: string, count: number): void {
    const key = source?.key ?? '';
    if (!this.running) {
      // Claimed after close() began: never handed to anyone, so back to the front, untouched.
      void this.host.held.putBack([{ tag, raw, key }], 'R', false).catch((err: unknown) => this.onError(toError(err)));
      return;
    }
    let decoded;
    try {
      decoded = decodeEnvelope(raw);
    } catch (err) {
      void this.host.held.ack(tag);
      this.onError(
        new MessageMalformedError(`Dropped a message from ${source?.queue ?? 'a queue'} that is not a kombu envelope`, { cause: err }),
      );
      return;
    }
    const delivery = new RedisDelivery(
      {
        message: decoded.message,
        queue: source?.queue ?? decoded.routingKey,
        deliveryTag: tag,
        exchange: decoded.exchange,
        routingKey: decoded.routingKey,
        redelivered: decoded.redelivered,
        deliveryCount: decoded.redelivered ? Math.max(1, count) : 0,
        raw,
        sourceKey: key,
      },
      this,
    );
    this.held.set(tag, delivery);
    try {
      this.onDelivery(delivery);
    } catch (err) {
      this.onError(toError(err));
    }
  }

  /** Turns tracking on for our keys; true when it was (re)armed now. */
  private async arm(): Promise<boolean> {
    const waker = this.host.waker;
    await waker.start();
    const prefixes = trackingPrefixes(this.queueList.map((q) => this.host.layout.queueKey(q)));
    const signature = `${waker.generation}|${prefixes.join('\n')}`;
    if (this.armed === signature) return false;
    try {
      if (this.armed !== undefined) await this.client.call('CLIENT', 'TRACKING', 'OFF');
      this.armed = undefined;
      const args = ['TRACKING', 'ON', 'REDIRECT', String(waker.id), 'BCAST', ...prefixes.flatMap((p) => ['PREFIX', p]), 'NOLOOP'];
      await this.client.call('CLIENT', ...args);
    } catch (err) {
      if (this.host.settings.wakeMode === 'auto' && isServerRefusal(err)) {
        this.mode = 'brpop';
        this.onError(new Error(`CLIENT TRACKING is refused (${toError(err).message}); idle consumers fall back to BRPOP`));
        return true;
      }
      throw err;
    }
    this.armed = signature;
    return true;
  }

  private disarm(): void {
    if (this.armed === undefined) return;
    this.armed = undefined;
    void this.client.call('CLIENT', 'TRACKING', 'OFF').catch((err: unknown) => this.onError(toError(err)));
  }

  /** Fallback wake-up: kombu's BRPOP with a 1 s timeout. */
  private async brpopWake(): Promise<void> {
    const keys = this.consumeKeys();
    const reply = await this.client.brpop(...keys.map((k) => k.key), 1);
    this.lastCycleAt = Date.now();
    if (!reply) return;
    this.prePopped = { key: reply[0], raw: reply[1] };
    this.wakePending = true;
  }

  private async returnPrePopped(pre: { key: string; raw: string }): Promise<void> {
    this.prePopped = undefined;
    await this.client.rpush(pre.key, pre.raw).catch((err: unknown) => this.onError(toError(err)));
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
  }
}

/** BCAST prefixes must not overlap: keep the shortest of any that do. */
export function trackingPrefixes(keys: readonly string[]): string[] {
  const sorted = [...new Set(keys)].sort();
  const out: string[] = [];
  for (const key of sorted) if (!out.some((p) => key.startsWith(p))) out.push(key);
  return out;
}

/**
 * The same error message more than once within 10 s is reported once: a Redis outage makes
 * every connection report each reconnect attempt.
 */
function quieted(report: (error: Error) => void): (error: Error) => void {
  const last = new Map<string, number>();
  return (error) => {
    const now = Date.now();
    const seen = last.get(error.message);
    if (seen !== undefined && now - seen < 10_000) return;
    last.set(error.message, now);
    if (last.size > 100) last.clear();
    report(error);
  };
}

function settle(acks: ReadonlyArray<Pending<string>>): void {
  for (const ack of acks) ack.resolve();
}

function isServerRefusal(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}
