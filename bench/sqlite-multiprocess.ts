/**
 * The SQLite broker shared by processes: one producer (this process) and K consumer processes.
 * Run: node --import tsx bench/sqlite-multiprocess.ts [N=20000] [K=2]
 * Prints the end-to-end rate (first publish → last ack) and the publish → delivery latency seen
 * by the consumers at a steady 500 msg/s (cross-process wake-ups through the file watch).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSqliteTransport } from '../src/transport/sqlite/index.js';
import type { WireMessage } from '../src/protocol/types.js';

const message = (i: number): WireMessage => ({
  body: Buffer.from(
    JSON.stringify([[i], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]),
  ),
  contentType: 'application/json',
  contentEncoding: 'utf-8',
  headers: { id: `id-${i}`, task: 'tasks.add', sent_at: Date.now() },
  properties: { correlationId: `id-${i}`, deliveryMode: 2 },
});

if (process.argv[2] === 'child') {
  // Consumer: ack everything; on 'report' print the count and latencies, then exit.
  const t = createSqliteTransport(process.argv[3] ?? '');
  const lat: number[] = [];
  t.consume({
    queues: ['bench'],
    prefetch: 50,
    onDelivery: (d) => {
      lat.push(Date.now() - Number(d.message.headers['sent_at']));
      void d.ack();
    },
  });
  process.stdin.on('data', () => {
    void t.close().then(() => {
      process.stdout.write(JSON.stringify({ count: lat.length, lat }) + '\n');
      process.exit(0);
    });
  });
  process.stdout.write('READY\n');
} else {
  const N = Number(process.argv[2] ?? 20_000);
  const K = Number(process.argv[3] ?? 2);
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-mpbench-'));
  const url = `sqlite:///${join(dir, 'b.db')}`;
  const producer = createSqliteTransport(url);
  await producer.connect();
  const self = fileURLToPath(import.meta.url);
  const children = Array.from({ length: K }, () =>
    spawn(process.execPath, ['--import', 'tsx', self, 'child', url], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const outputs = children.map((c) => {
    let text = '';
    c.stdout.on('data', (b: Buffer) => (text += b.toString()));
    return () => text;
  });
  const until = async (check: () => boolean): Promise<void> => {
    while (!check()) await new Promise((r) => setTimeout(r, 10));
  };
  await until(() => outputs.every((o) => o().includes('READY')));
  const left = (): Promise<number> => producer.size('bench');

  const run = async (label: string, count: number): Promise<void> => {
    const started = performance.now();
    for (let i = 0; i < count; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, count - i) }, (_, k) =>
          producer.publish(message(i + k), { exchange: '', routingKey: 'bench' }),
        ),
      );
    }
    while ((await left()) > 0) await new Promise((r) => setTimeout(r, 5));
    const s = (performance.now() - started) / 1000;
    console.log(
      `${label.padEnd(50)} ${Math.round(count / s)
        .toLocaleString('en')
        .padStart(8)} msg/s (${count} in ${s.toFixed(2)} s, claimed; acks trail)`,
    );
  };
  await run(`1 producer + ${K} consumer processes, pipelined`, N);
  await new Promise((r) => setTimeout(r, 1000));
  for (const c of children) c.stdin.write('report\n');
  await until(() =>
    outputs.every((o) =>
      o()
        .split('\n')
        .some((l) => l.startsWith('{')),
    ),
  );
  const reports = outputs.map(
    (o) =>
      JSON.parse(
        o()
          .split('\n')
          .find((l) => l.startsWith('{')) ?? '{}',
      ) as { count: number; lat: number[] },
  );
  console.log(
    `  per consumer: ${reports.map((r) => r.count).join(' + ')} = ${reports.reduce((n, r) => n + r.count, 0)}`,
  );

  // Latency at a steady pace, with fresh consumers.
  const paced = Array.from({ length: K }, () =>
    spawn(process.execPath, ['--import', 'tsx', self, 'child', url], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const pacedOut = paced.map((c) => {
    let text = '';
    c.stdout.on('data', (b: Buffer) => (text += b.toString()));
    return () => text;
  });
  await until(() => pacedOut.every((o) => o().includes('READY')));
  const M = 2000;
  for (let i = 0; i < M; i++) {
    await producer.publish(message(i), { exchange: '', routingKey: 'bench' });
    await new Promise((r) => setTimeout(r, 2));
  }
  while ((await left()) > 0) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 300));
  for (const c of paced) c.stdin.write('report\n');
  await until(() =>
    pacedOut.every((o) =>
      o()
        .split('\n')
        .some((l) => l.startsWith('{')),
    ),
  );
  const lat = pacedOut
    .flatMap(
      (o) =>
        (
          JSON.parse(
            o()
              .split('\n')
              .find((l) => l.startsWith('{')) ?? '{}',
          ) as { lat: number[] }
        ).lat,
    )
    .sort((a, b) => a - b);
  console.log(
    `cross-process publish→delivery at ~400 msg/s: p50 ${lat[Math.floor(lat.length / 2)]} ms, p99 ${lat[Math.floor(lat.length * 0.99)]} ms, max ${lat[lat.length - 1]} ms (n=${lat.length})`,
  );
  await producer.close();
  rmSync(dir, { recursive: true, force: true });
}
