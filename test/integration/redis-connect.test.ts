/**
 * Connecting: an unreachable server fails fast with a coded ConnectionError naming the URL
 * (password masked) and the fix; rediss:// with a CA from the transport options; Sentinel
 * with the master name from the transport options.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createRedisBackend } from '../../src/backend/redis.js';
import { contractMeta } from '../../src/backend/backend.contract.js';
import { ConnectionError } from '../../src/errors.js';
import { contractMessage } from '../../src/transport/transport.contract.js';
import { createRedisTransport } from '../../src/transport/redis/index.js';
import type { Delivery, Transport } from '../../src/transport/types.js';
import { findExecutable, spawnManaged } from '../support/process.js';
import { freePort, redisPings, waitUntil } from '../support/net.js';
import { startRedis } from '../support/servers.js';

async function roundTrip(t: Transport, queue: string): Promise<void> {
  await t.publish(contractMessage('hello'), { exchange: '', routingKey: queue });
  const got = await new Promise<Delivery>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no delivery')), 5000);
    const c = t.consume({
      queues: [queue],
      prefetch: 1,
      onDelivery: (d) => {
        clearTimeout(timer);
        void c.close().then(() => resolve(d));
      },
    });
  });
  assert.equal(got.message.headers['id'], 'hello');
  await got.ack();
}

void describe('Redis connections', () => {
  void test('an unreachable broker: BROKER_UNREACHABLE within the connect timeout, URL masked, fix named', async () => {
    const port = await freePort();
    const url = `redis://:hunter2@127.0.0.1:${port}/0`;
    const t = createRedisTransport(url, { connectTimeout: 2 });
    const started = Date.now();
    await assert.rejects(t.connect(), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.equal(e.code, 'BROKER_UNREACHABLE');
      assert.match(e.message, new RegExp(`redis://:\\*\\*@127\\.0\\.0\\.1:${port}/0`));
      assert.doesNotMatch(e.message, /hunter2/);
      assert.match(e.message, /ECONNREFUSED/);
      assert.match(e.hint ?? '', /brokerUrl/);
      return true;
    });
    assert.ok(Date.now() - started < 3000, `gave up after ${Date.now() - started} ms`);
    assert.equal(t.displayUrl, `redis://:**@127.0.0.1:${port}/0`);
    await t.close();
  });

  void test('an unreachable result backend: BACKEND_UNREACHABLE', async () => {
    const port = await freePort();
    const b = createRedisBackend(`redis://127.0.0.1:${port}/1`, { connectTimeout: 2 });
    await assert.rejects(
      b.connect(),
      (e: unknown) =>
        e instanceof ConnectionError &&
        e.code === 'BACKEND_UNREACHABLE' &&
        /resultBackend/.test(e.hint ?? ''),
    );
    await b.close();
  });

  void test('a server that never answers: the connect timeout applies', async () => {
    const net = await import('node:net');
    const silent = net.createServer(() => undefined); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const t = createRedisTransport(`redis://127.0.0.1:${port}/0`, { connectTimeout: 1 });
    const started = Date.now();
    await assert.rejects(
      t.connect(),
      (e: unknown) => e instanceof ConnectionError && e.code === 'BROKER_UNREACHABLE',
    );
    assert.ok(Date.now() - started < 2500, `gave up after ${Date.now() - started} ms`);
    await t.close();
    silent.close();
  });

  void test('rediss:// with the CA given as a transport option (ssl_ca_certs)', async (ctx) => {
    if (!findExecutable('openssl', ['/usr/bin/openssl'])) {
      // scripts/test.sh installs openssl with redis-server; in CI its absence is a failure.
      if (process.env.CI === 'true')
        assert.fail('openssl is not installed (needed to make a test CA)');
      ctx.skip('openssl is not installed (needed to make a test CA)');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-tls-'));
    const ssl = (...args: string[]): void =>
      void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '1',
      '-subj',
      '/CN=celeriac-test-ca',
    );
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=127.0.0.1',
    );
    writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost');
    ssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '1',
      '-extfile',
      'ext.cnf',
    );
    const tlsPort = await freePort();
    const server = await startRedis({
      private: true,
      appendonly: false,
      args: [
        '--tls-port',
        String(tlsPort),
        '--tls-cert-file',
        join(dir, 'server.crt'),
        '--tls-key-file',
        join(dir, 'server.key'),
        '--tls-ca-cert-file',
        join(dir, 'ca.crt'),
        '--tls-auth-clients',
        'no',
      ],
    });
    try {
      const url = `rediss://127.0.0.1:${tlsPort}/0`;
      const t = createRedisTransport(url, { ssl_ca_certs: join(dir, 'ca.crt') });
      const b = createRedisBackend(url, { sslCaCerts: join(dir, 'ca.crt') });
      await t.connect();
      await b.connect();
      await roundTrip(t, 'tls');
      await b.store(contractMeta('tls', 'SUCCESS', 'ok'));
      assert.equal((await b.waitFor('tls', { timeout: 2000 })).result, 'ok');
      await t.close();
      await b.close();
      const untrusted = createRedisTransport(url, { connectTimeout: 2 });
      await assert.rejects(
        untrusted.connect(),
        (e: unknown) => e instanceof ConnectionError && /certificate/i.test(e.message),
      );
      await untrusted.close();
    } finally {
      await server.stop();
    }
  });

  void test('sentinel:// finds the master named by masterName', async () => {
    const master = await startRedis({ private: true, appendonly: false });
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-sentinel-'));
    const port = await freePort();
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor mymaster 127.0.0.1 ${master.port} 1\n`,
    );
    const sentinel = spawnManaged(findExecutable('redis-server', ['/usr/bin/redis-server'])!, [
      conf,
      '--sentinel',
    ]);
    try {
      await waitUntil(() => redisPings(port), {
        timeoutMs: 10_000,
        describe: () => sentinel.output(),
      });
      const url = `sentinel://127.0.0.1:${port}/2;sentinel://127.0.0.1:${await freePort()}`;
      const t = createRedisTransport(url, { master_name: 'mymaster' });
      await t.connect();
      await roundTrip(t, 'via-sentinel');
      await t.close();
    } finally {
      await sentinel.stop();
      await master.stop();
    }
  });
});
