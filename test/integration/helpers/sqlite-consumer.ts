/**
 * A consumer process for the multi-process SQLite tests.
 * Usage: node --import tsx sqlite-consumer.ts <url> <queue> <prefetch> <ack|hold>
 * Prints one line per event on stdout: `READY <pid>`, `GOT <id> <deliveryCount>`, `ACK <id>`.
 * `hold` mode never acks (the parent kills it to test that its messages come back).
 * On SIGTERM it closes the transport (returning unacked messages) and exits 0.
 */
import { createSqliteTransport } from '../../../src/transport/sqlite/index.js';

const [url, queue, prefetchArg, mode] = process.argv.slice(2);
if (!url || !queue || !prefetchArg || (mode !== 'ack' && mode !== 'hold')) {
  process.stderr.write('usage: sqlite-consumer.ts <url> <queue> <prefetch> <ack|hold>\n');
  process.exit(2);
}

const transport = createSqliteTransport(url, { reapInterval: 0.1 });
await transport.connect();
const out = (line: string): boolean => process.stdout.write(`${line}\n`);

transport.consume({
  queues: [queue],
  prefetch: Number(prefetchArg),
  onDelivery: (delivery) => {
    const id = String(delivery.message.headers['id']);
    out(`GOT ${id} ${delivery.deliveryCount}`);
    if (mode === 'ack') void delivery.ack().then(() => out(`ACK ${id}`));
  },
  onError: (error) => process.stderr.write(`consumer error: ${error.message}\n`),
});

process.on('SIGTERM', () => {
  void transport.close().then(() => process.exit(0));
});
out(`READY ${process.pid}`);
