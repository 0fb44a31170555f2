/**
 * Throughput of the SQLite transport in one process. Run: node --import tsx bench/sqlite-transport.ts [N]
 * Prints messages per second for: publish only, consume+ack of a backlog, a pipelined
 * publish → claim → ack cycle (one connection, and producer/consumer on two connections), and
 * a strict one-at-a-time round trip (latency bound).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WireMessage } from '../src/protocol/types.js';
import { createSqliteTransport } from '../src/transport/sqlite/index.js';
import type { Delivery, Transport } from '../src/transport/types.js';

const N = Number(process.argv[2] ?? 20_000);
const body = Buffer.from(
  JSON.stringify([[1, 2], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]),
);
const message = (i: number): WireMessage => ({
  body,
  contentType: 'application/json',
  contentEncoding: 'utf-8',
  headers: {
    lang: 'py',
    task: 'tasks.add',
    id: `id-${i}`,
    retries: 0,
    timelimit: [null, null],
    root_id: `id-${i}`,
  },
  properties: { correlationId: `id-${i}`, replyTo: 'reply', deliveryMode: 2, priority: 0 },
});
const route = { exchange: '', routingKey: 'bench' };

function rate(label: string, count: number, started: number): void {
  const s = (performance.now() - started) / 1000;
  console.log(
    `${label.padEnd(58)} ${Math.round(count / s)
      .toLocaleString('en')
      .padStart(8)} msg/s  (${count} in ${s.toFixed(2)} s)`,
  );
}

function drain(t: Transport, count: number, prefetch: number): Promise<void> {
  return new Promise((resolve) => {
    let done = 0;
    const consumer = t.consume({
      queues: ['bench'],
      prefetch,
      onDelivery: (d: Delivery) => {
        void d.ack().then(() => {
          if (++done === count) void consumer.close().then(resolve);
        });
      },
    });
  });
}

async function withFile(fn: (url: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-bench-'));
  try {
    await fn(`sqlite:///${join(dir, 'b.db')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await withFile(async (url) => {
  const t = createSqliteTransport(url);
  await t.connect();
  let started = performance.now();
  for (let i = 0; i < N; i++) await t.publish(message(i), route);
  rate('publish, awaited one by one', N, started);
  started = performance.now();
  await drain(t, N, 100);
  rate('consume + ack a backlog, prefetch 100', N, started);
  started = performance.now();
  const pubs: Array<Promise<void>> = [];
  for (let i = 0; i < N; i++) pubs.push(t.publish(message(i), route));
  await Promise.all(pubs);
  rate('publish, all in flight (batched commits)', N, started);
  await t.purge('bench');
  await t.close();
});

for (const [label, two] of [
  ['cycle publish→claim→ack, one connection, prefetch 100', false],
  ['cycle publish→claim→ack, two connections, prefetch 100', true],
] as const) {
  await withFile(async (url) => {
    const producer = createSqliteTransport(url);
    const consumer = two ? createSqliteTransport(url) : producer;
    await producer.connect();
    await consumer.connect();
    const started = performance.now();
    const done = drain(consumer, N, 100);
    for (let i = 0; i < N; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, N - i) }, (_, k) =>
          producer.publish(message(i + k), route),
        ),
      );
    }
    await done;
    rate(label, N, started);
    await producer.close();
    await consumer.close();
  });
}

await withFile(async (url) => {
  const t = createSqliteTransport(url);
  const count = Math.min(N, 5000);
  let next: ((d: Delivery) => void) | undefined;
  t.consume({ queues: ['bench'], prefetch: 1, onDelivery: (d) => next?.(d) });
  const lat: number[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const got = new Promise<Delivery>((resolve) => (next = resolve));
    await t.publish(message(i), route);
    await (await got).ack();
    lat.push(performance.now() - t0);
  }
  rate('round trip one at a time (publish, wait, ack)', count, started);
  lat.sort((a, b) => a - b);
  console.log(
    `  round trip p50 ${lat[Math.floor(count / 2)]!.toFixed(3)} ms, p99 ${lat[Math.floor(count * 0.99)]!.toFixed(3)} ms`,
  );
  await t.close();
});
