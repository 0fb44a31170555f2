/**
 * Hand-off: an idle consumer is handed its next message by Redis instead of being woken to
 * claim it. It blocks in `BLMOVE <queue> <hand-off list>` on a connection of its own; the
 * reply carries the message, which runs at once; right after (the next loop iteration) the
 * CLAIM script records it in `unacked` (popping it off the hand-off list), in the write that
 * blocks for the next one.
 * A round trip to Redis less between a push and the task's start than a woken claim
 * (invalidation, then claim, then reply).
 *
 * Nothing is lost: the message is always in a list (the queue, then the hand-off list) or in
 * `unacked`. A consumer that dies between the two leaves it in its hand-off list; the list is
 * registered in `<prefix>celeriac.handoffs` (a sorted set, scored with the time the consumer
 * last refreshed it), and every transport's restore pass moves the lists of consumers not
 * seen for `handOffStaleAfter` seconds back to their queues. Python workers do not know these
 * lists: a message stays there until a celeriac process restores it.
 *
 * Used for one queue (BLMOVE blocks on one list): its plain list. The queue's priority lists
 * and any other wake-up keep CLIENT TRACKING (wakeup.ts). Needs Redis 6.2 (BLMOVE); a server
 * that refuses it turns hand-off off, once, with a message.
 */
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { toError } from '../../errors.js';
import { claim, forgetClaims, reclaim, type ClaimId, type Claimed } from './claim.js';
import { CLOSE_GRACE_MS, settleWithin, type RedisConnector } from './connection.js';
import type { RedisDelivery } from './delivery.js';
import type { HeldMessages } from './held.js';
import type { KeyLayout } from './keys.js';
import { ensureLoaded } from './lua.js';
import type { RedisTransportSettings } from './options.js';
import { CLAIM, RECLAIM, RETURN_HANDOFFS } from './scripts.js';
import type { ConsumeKey } from './wakeup.js';

/** What the hand-off needs from its consumer. */
export interface HandOffOwner {
  /** The list to block on now, or undefined (no free slot, several queues, closing). */
  handOffKey(): ConsumeKey | undefined;
  /** True while `key` is one of the consumer's lists (its queue may have been cancelled). */
  serves(key: string): boolean;
  /** Holds a handed-off message, to run before it is recorded; undefined when it must wait for its record. */
  adopt(raw: string, source: ConsumeKey): RedisDelivery | undefined;
  dispatch(delivery: RedisDelivery): void;
  /** A recorded message nobody adopted (see {@link adopt}): as any claimed one. */
  handOut(claimed: Claimed): void;
  /** The queue has more: claim them in batches. */
  wake(): void;
  onError(error: Error): void;
}

/** What the hand-off needs from its transport. */
export interface HandOffHost {
  connector: RedisConnector;
  layout: KeyLayout;
  settings: RedisTransportSettings;
  held: HeldMessages;
}

/** The registry of hand-off lists: member `[<list>, <queue key>]`, score its last refresh (epoch s). */
function handOffRegistry(layout: KeyLayout): string {
  return `${layout.prefix}celeriac.handoffs`;
}

/** One consumer's hand-off. */
export class HandOff {
  /** The list a BLMOVE is blocked on now (its pushes are handed to it: no claim needed). */
  blockedOn: string | undefined;
  private client: Redis | undefined;
  private opening: Promise<Redis> | undefined;
  private loop: Promise<void> | undefined;
  private running = true;
  private disabled = false;
  private records = 0;
  /** The hand-off connection's CLIENT ID. */
  private clientId: number | undefined;
  /** The handling of a handed-over message, from its BLMOVE reply to its record's reply. */
  private receiving: Promise<unknown> | undefined;
  /** A record sent whose reply was lost: it may have run (RECLAIM finds out). */
  private unsure: ClaimId | undefined;
  /** Adopted deliveries waiting for their record, by tag. */
  private readonly unrecorded = new Map<string, { done: Promise<void>; resolve: () => void }>();
  readonly list: string;
  private readonly recordId: string;
  /** The registry entry last written, and when (epoch ms). */
  private beat = { member: '', at: 0 };

  constructor(
    private readonly host: HandOffHost,
    consumerId: string,
    private readonly owner: HandOffOwner,
  ) {
    this.list = `${host.layout.prefix}celeriac.handoff.${consumerId}`;
    this.recordId = `${consumerId}.handoff`;
  }

  /**
   * Resolves once the delivery's record is in `unacked` (at once for one that was not handed
   * off): its ack, requeue or deferral must not overtake the record.
   */
  recorded(delivery: RedisDelivery): Promise<void> | undefined {
    return this.unrecorded.get(delivery.deliveryTag)?.done;
  }

  /**
   * The consumer's queues changed: a BLMOVE waiting on a list it should no longer wait on is
   * ended now (CLIENT UNBLOCK, sent on `via`, the consumer's connection), not at its timeout.
   */
  retarget(via: Redis): void {
    const blocked = this.blockedOn;
    if (!blocked || this.clientId === undefined || this.owner.handOffKey()?.key === blocked) return;
    via.call('CLIENT', 'UNBLOCK', String(this.clientId)).catch(() => undefined);
  }

  /** Blocks for a message if the owner wants one and no BLMOVE is pending already. */
  start(): void {
    if (!this.running || this.disabled || this.loop) return;
    if (!this.owner.handOffKey()) return;
    this.loop = this.cycle().finally(() => (this.loop = undefined));
  }

  private connection(): Promise<Redis> {
    this.opening ??= (async () => {
      const client = this.host.connector.create(
        'handoff',
        // Never resend a BLMOVE blindly (its message may be in the hand-off list already: the
        // next record finds it there).
        { maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false },
        (err) => this.owner.onError(err),
      );
      // The record is queued behind a blocking BLMOVE: its EVALSHA must not need an EVAL.
      // The connection's id is what CLIENT UNBLOCK names (retarget()).
      const prepare = async (): Promise<void> => {
        await ensureLoaded(client, [CLAIM, RECLAIM]);
        this.clientId = Number(await client.client('ID'));
      };
      client.on('ready', () => void prepare().catch(() => undefined));
      this.client = client;
      await this.host.connector.open(client);
      await prepare();
      return client;
    })().catch((err: unknown) => {
      this.opening = undefined;
      throw err;
    });
    return this.opening;
  }

  private async cycle(): Promise<void> {
    let failures = 0;
    let next: Promise<string | null> | undefined;
    let source: ConsumeKey | undefined;
    while (this.running && !this.disabled) {
      try {
        const client = await this.connection();
        if (!next) {
          source = this.owner.handOffKey();
          if (!source) {
            this.blockedOn = undefined;
            return;
          }
          next = corked(client, () => this.block(client, source!));
        }
        const raw = await next;
        next = undefined;
        // blockedOn stays set until the next BLMOVE is sent or not: a push announced
        // meanwhile is taken by that BLMOVE, or seen by the record's LLEN.
        failures = 0;
        // (Wrapped: an async function's result that is itself a promise would be awaited.)
        if (raw !== null && source) {
          const receiving = this.receive(client, raw, source);
          this.receiving = receiving;
          next = (await receiving).next;
          this.receiving = undefined;
        }
      } catch (err) {
        next = undefined;
        this.blockedOn = undefined;
        this.receiving = undefined;
        if (!this.running) return;
        if (isRefusal(err)) {
          this.disabled = true;
          this.owner.onError(
            new Error(
              `BLMOVE is refused (${toError(err).message}); idle consumers are woken to claim instead of handed their messages (Redis 6.2 or later hands them off)`,
            ),
          );
          return;
        }
        this.owner.onError(toError(err));
        await sleep(Math.min(2000, 100 * 2 ** failures++));
      }
    }
  }

  /**
   * Blocks on `source`; first refreshes the hand-off list's registry entry when a quarter of
   * `handOffStaleAfter` passed since the last refresh (or the queue key changed).
   */
  private block(client: Redis, source: ConsumeKey): Promise<string | null> {
    const member = JSON.stringify([this.list, source.key]);
    const now = Date.now();
    const due = now - this.beat.at > this.host.settings.handOffStaleAfter * 250;
    if (member !== this.beat.member || due) {
      this.beat = { member, at: now };
      client.zadd(handOffRegistry(this.host.layout), now / 1000, member).catch(() => {
        this.beat = { member: '', at: 0 }; // refreshed with the next BLMOVE
      });
    }
    this.blockedOn = source.key;
    const reply = client.blmove(
      source.key,
      this.list,
      'RIGHT',
      'LEFT',
      this.host.settings.idleRecheckInterval,
    );
    reply.catch(() => undefined); // close() may cut it off with nobody awaiting it
    return reply;
  }

  /**
   * A message was handed over: adopt and run it, and in the same write record what the
   * hand-off list holds (it, and anything a lost reply left there), look whether the queue
   * has more, and block for the next one if a slot is still free.
   */
  private async receive(
    client: Redis,
    raw: string,
    source: ConsumeKey,
  ): Promise<{ next: Promise<string | null> | undefined }> {
    if (this.unsure) await this.recoverLostRecord(client, source);
    if (!this.owner.serves(source.key)) {
      // Its queue was cancelled while the BLMOVE waited: back to the front of that queue.
      while (await client.lmove(this.list, source.key, 'RIGHT', 'RIGHT'));
      return { next: undefined };
    }
    const early = this.owner.adopt(raw, source);
    if (early) {
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      this.unrecorded.set(early.deliveryTag, { done, resolve });
      // It runs first; the record leaves on the next loop iteration, after the result the
      // task may have stored meanwhile (written at the end of this turn): the result is what
      // the caller waits for, the record only what its settlement waits for.
      this.owner.dispatch(early);
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
    const acks = this.host.held.takeAcks();
    const who: ClaimId = {
      consumer: this.recordId,
      id: String(++this.records),
      ttl: this.host.settings.visibilityTimeout,
    };
    const hand: ConsumeKey = { key: this.list, queue: source.queue };
    // One write (a corked socket): the record, the look at the queue, the next BLMOVE. Not a
    // pipeline: its replies would all wait for the BLMOVE's.
    const { recording, backlog, next } = corked(client, () => ({
      recording: claim(
        client,
        this.host.layout,
        [hand],
        this.host.settings.claimBatch,
        acks?.items ?? [],
        undefined,
        who,
      ),
      backlog: client.llen(source.key),
      next: this.running && this.owner.handOffKey() ? this.block(client, source) : undefined,
    }));
    if (!next) this.blockedOn = undefined;
    backlog.catch(() => undefined);
    try {
      const claimed = await recording;
      acks?.resolve();
      this.settleRecords(claimed, source);
    } catch (err) {
      this.host.held.returnAcks(acks);
      this.unsure = who;
      throw err;
    }
    if ((await backlog.catch(() => 0)) > 0) this.owner.wake();
    return { next };
  }

  /** Records came back: adopted ones may be settled now, others are handed out. */
  private settleRecords(claimed: readonly Claimed[], source: ConsumeKey): void {
    for (const c of claimed) {
      const waiting = this.unrecorded.get(c.tag);
      if (waiting) {
        this.unrecorded.delete(c.tag);
        waiting.resolve();
      } else {
        this.owner.handOut({ ...c, source });
      }
    }
  }

  /** A record whose reply was lost: what it put in `unacked` is ours (see RECLAIM). */
  private async recoverLostRecord(client: Redis, source: ConsumeKey): Promise<void> {
    const lost = this.unsure!;
    const found = await reclaim(
      client,
      this.host.layout,
      [{ key: this.list, queue: source.queue }],
      lost,
    );
    this.unsure = undefined;
    this.settleRecords(found, source);
  }

  /**
   * Stops blocking; what the hand-off list still holds (a message whose reply the closing
   * cut off) goes back to the consuming end of its queue, and the list leaves the registry.
   * `main` is a connection that is still open (the consumer's).
   */
  async close(main: Redis): Promise<void> {
    this.running = false;
    // A message handed over and running: its record goes out first (else the list would go
    // back to the queue below with it, and it would run twice).
    await settleWithin(this.receiving ?? Promise.resolve(), CLOSE_GRACE_MS);
    this.client?.disconnect();
    await this.loop?.catch(() => undefined);
    // Records that never got an answer: their deliveries' settlements go ahead (and come
    // to nothing if the message is still in the hand-off list, which goes back below).
    for (const waiting of this.unrecorded.values()) waiting.resolve();
    this.unrecorded.clear();
    if (!this.client) return;
    await Promise.all([
      returnHandOffs(main, this.host.layout, [this.list]),
      forgetClaims(main, this.host.layout, this.recordId),
    ]).catch((err: unknown) => this.owner.onError(toError(err)));
  }
}

/**
 * Moves hand-off lists back to their queues: the given ones (a closing consumer's), or every
 * registered one not refreshed since `staleBefore` (epoch seconds; a consumer that died).
 * Returns how many messages went back.
 */
export async function returnHandOffs(
  client: Redis,
  layout: KeyLayout,
  lists: readonly string[] | undefined,
  staleBefore = 0,
): Promise<number> {
  return Number(
    await RETURN_HANDOFFS.run(
      client,
      [handOffRegistry(layout)],
      lists ? ['lists', ...lists] : ['stale', String(staleBefore)],
    ),
  );
}

/**
 * Runs `send` with the connection's socket corked, so that the commands it issues leave in
 * one write. (A NOSCRIPT fallback would queue its EVAL behind the BLMOVE: the scripts are
 * loaded on this connection whenever it connects.)
 */
function corked<T>(client: Redis, send: () => T): T {
  const stream = (client as unknown as { stream?: Writable }).stream;
  stream?.cork();
  try {
    return send();
  } finally {
    stream?.uncork();
  }
}

function isRefusal(err: unknown): boolean {
  return (
    err instanceof Error &&
    err.name === 'ReplyError' &&
    /unknown command|ERR unknown|wrong number/i.test(err.message)
  );
}
