/**
 * What the parts of the transport contract share (see transport.contract.ts): the harness,
 * the test message, inboxes that collect deliveries, and the runners that skip a test when
 * the transport lacks a capability or the harness a second connection.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { WireMessage } from '../protocol/types.js';
import type { Consumer, Delivery, Transport, TransportCapabilities } from './types.js';

/** What the suite needs from the transport under test. */
export interface TransportHarness {
  /** A fresh, not yet connected transport. The suite connects and closes it. */
  transport: Transport;
  /** Frees whatever the harness made (files, keys). Called after the transport is closed. */
  cleanup(): Promise<void>;
  /**
   * Another connection to the same broker (a second transport instance), not yet connected.
   * Enables the tests of what crosses connections: wake-ups, fanout, and unacked deliveries
   * coming back when their connection closes. The suite connects and closes it.
   */
  peer?: () => Promise<Transport>;
}

/** How long the suite waits for something that should happen (generous; CI machines are slow). */
export const EVENTUALLY_MS = 5000;
/** How long the suite watches for something that must NOT happen. */
export const QUIET_MS = 150;

/** A message whose identity is `tag` (in the body, the `id` header and the correlation id). */
export function contractMessage(tag: string): WireMessage {
  return {
    body: Buffer.from(
      JSON.stringify([[tag], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]),
    ),
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    headers: { id: tag, task: 'contract.echo', lang: 'py', retries: 0, timelimit: [null, null] },
    properties: { correlationId: tag, replyTo: 'contract-reply', deliveryMode: 2 },
  };
}

export const tagOf = (d: Delivery): string => String(d.message.headers['id']);
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Collects deliveries and lets a test wait for a count. */
export class Inbox {
  readonly items: Delivery[] = [];
  readonly times: number[] = [];
  private waiters: Array<() => void> = [];
  outstanding = 0;
  maxOutstanding = 0;

  readonly push = (delivery: Delivery): void => {
    this.items.push(delivery);
    this.times.push(Date.now());
    this.outstanding++;
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
    for (const wake of this.waiters.splice(0)) wake();
  };

  async settle(delivery: Delivery, how: 'ack' | 'drop' | 'requeue'): Promise<void> {
    this.outstanding--;
    if (how === 'ack') await delivery.ack();
    else await delivery.reject(how === 'requeue');
  }

  async waitFor(count: number, what = `${count} deliveries`): Promise<Delivery[]> {
    const deadline = Date.now() + EVENTUALLY_MS;
    while (this.items.length < count) {
      const left = deadline - Date.now();
      if (left <= 0)
        assert.fail(
          `timed out waiting for ${what}; got ${this.items.length}: ${this.tags().join(',')}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.items.slice(0, count);
  }

  tags(): string[] {
    return this.items.map(tagOf);
  }
}

/** Collects fanout messages. */
export class FanoutInbox {
  readonly items: Array<{ tag: string; key: string }> = [];
  readonly push = (message: WireMessage, routingKey: string): void => {
    this.items.push({ tag: String(message.headers['id']), key: routingKey });
  };
  async waitFor(count: number): Promise<void> {
    const deadline = Date.now() + EVENTUALLY_MS;
    while (this.items.length < count) {
      if (Date.now() > deadline)
        assert.fail(`timed out waiting for ${count} broadcasts; got ${this.items.length}`);
      await sleep(5);
    }
  }
}

export type Make = () => Promise<TransportHarness>;
export type Body = (t: Transport, h: TransportHarness, ctx: TestContext) => Promise<void>;

/** Runs `body` with a connected transport, skipping when `needs` is not declared. */
export function run(make: Make, needs: Array<keyof TransportCapabilities>, body: Body) {
  return async (ctx: TestContext): Promise<void> => {
    const h = await make();
    try {
      const missing = needs.filter((cap) => !h.transport.capabilities[cap]);
      if (missing.length > 0) {
        ctx.skip(`${h.transport.kind} does not declare the ${missing.join(', ')} capability`);
        return;
      }
      await h.transport.connect();
      await body(h.transport, h, ctx);
    } finally {
      await h.transport.close();
      await h.cleanup();
    }
  };
}

/** Runs `body` with the transport and a connected peer (skips when the harness has none). */
export function withPeer(
  make: Make,
  needs: Array<keyof TransportCapabilities>,
  body: (a: Transport, b: Transport) => Promise<void>,
) {
  return run(make, needs, async (a, h, ctx) => {
    if (!h.peer) {
      ctx.skip('the harness offers no second connection (peer)');
      return;
    }
    const b = await h.peer();
    try {
      await b.connect();
      await body(a, b);
    } finally {
      await b.close();
    }
  });
}

export const unique = (what: string): string => `contract.${what}.${randomUUID().slice(0, 8)}`;

export async function publishAll(
  t: Transport,
  queue: string,
  tags: readonly string[],
): Promise<void> {
  for (const tag of tags)
    await t.publish(contractMessage(tag), { exchange: '', routingKey: queue });
}

export function consume(t: Transport, queues: string[], prefetch: number, inbox: Inbox): Consumer {
  return t.consume({ queues, prefetch, onDelivery: inbox.push });
}
