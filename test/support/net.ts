/** Loopback ports and readiness probes for the servers tests start. */
import { createServer, connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

/** The loopback address every test server listens on. */
export const LOOPBACK = '127.0.0.1';

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, LOOPBACK, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/**
 * Connects to `port`, writes `request`, and resolves with the first bytes that come back
 * (at least `minBytes`), or rejects on error, close or timeout.
 */
export function tcpExchange(
  port: number,
  request: Buffer | string,
  minBytes: number,
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: LOOPBACK, port });
    let got = Buffer.alloc(0);
    const finish = (err: Error | undefined): void => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(got);
    };
    const timer = setTimeout(() => finish(new Error(`no answer on port ${port}`)), timeoutMs);
    sock.once('connect', () => sock.write(request));
    sock.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= minBytes) finish(undefined);
    });
    sock.once('error', (e) => finish(e));
    sock.once('close', () => finish(new Error(`port ${port} closed the connection`)));
  });
}

/** True when a Redis server on `port` answers PING with PONG (not LOADING or an error). */
export async function redisPings(port: number): Promise<boolean> {
  try {
    const reply = await tcpExchange(port, 'PING\r\n', 7, 1000);
    return reply.toString('latin1').startsWith('+PONG');
  } catch {
    return false;
  }
}

/** True when an AMQP 0-9-1 server on `port` answers the protocol header with a method frame. */
export async function amqpAnswers(port: number): Promise<boolean> {
  try {
    const reply = await tcpExchange(port, Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'), 7, 1000);
    return reply[0] === 1; // frame type 1 = method (connection.start)
  } catch {
    return false;
  }
}

/**
 * Polls `probe` every `intervalMs` until it resolves true; rejects with `describe()` after
 * `timeoutMs`, or as soon as `gaveUp()` returns a reason (e.g. the server process exited).
 */
export async function waitUntil(
  probe: () => Promise<boolean>,
  options: {
    timeoutMs: number;
    intervalMs?: number;
    describe: () => string;
    gaveUp?: () => string | undefined;
  },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await probe()) return;
    const reason = options.gaveUp?.();
    if (reason) throw new Error(`${reason}\n${options.describe()}`);
    if (Date.now() > deadline) {
      throw new Error(`not ready after ${options.timeoutMs} ms\n${options.describe()}`);
    }
    await delay(options.intervalMs ?? 50);
  }
}
