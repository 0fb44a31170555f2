/**
 * Remote control and events on Redis (kombu's PUBLISH/PSUBSCRIBE fanout, db 10), plus the
 * Redis layout kombu leaves: the mailbox binding while a worker runs, and no reply-queue
 * binding or list left after a broadcast (kombu's SREM + DEL).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Celery, Worker } from '../../src/index.js';
import { Logger } from '../../src/util/logger.js';
import { redisAvailable, startRedis, type RedisServer } from '../support/servers.js';
import { remoteControlSuite } from './remote-control.shared.js';

const SEP = '\x06\x16';

if (redisAvailable()) {
  let server: RedisServer | undefined;
  after(() => server?.stop());
  remoteControlSuite({
    name: 'redis',
    url: async () => {
      server = await startRedis({ db: 10, flush: true });
      return server.url;
    },
  });

  void describe('remote control keys on redis', () => {
    test('mailbox binding while running; the reply binding and lists are gone after a broadcast', async () => {
      const redis = await startRedis({ db: 11, flush: true });
      const app = new Celery('keys', { broker: redis.url, backend: redis.url });
      app.task(() => 1, { name: 'keys.one' });
      const worker = new Worker(app, {
        hostname: 'keys@test',
        logger: new Logger({ level: 'CRITICAL' }),
      });
      const client = new Celery('client', { broker: redis.url, backend: redis.url });
      const raw = new Redis(redis.url);
      try {
        await worker.start();
        assert.ok(
          (await raw.smembers('_kombu.binding.celery.pidbox')).includes(
            `${SEP}${SEP}keys@test.celery.pidbox`,
          ),
          'the worker mailbox is bound as kombu binds it',
        );
        assert.deepEqual(await client.control.ping({ destination: ['keys@test'] }), [
          { 'keys@test': { ok: 'pong' } },
        ]);
        const replyMembers = await raw.smembers('_kombu.binding.reply.celery.pidbox');
        assert.deepEqual(
          replyMembers.filter((m) => m.startsWith(client.oid)),
          [],
          'reply binding removed',
        );
        assert.deepEqual(await raw.keys(`${client.oid}*`), [], 'reply lists removed');
        assert.deepEqual(await raw.keys('*reply.celery.pidbox*'), [], 'nothing left');
        await worker.stop();
        assert.ok(
          !(await raw.smembers('_kombu.binding.celery.pidbox')).includes(
            `${SEP}${SEP}keys@test.celery.pidbox`,
          ),
          'unbound at shutdown',
        );
      } finally {
        raw.disconnect();
        await worker.stop();
        await Promise.all([app.close(), client.close()]);
        await redis.stop();
      }
    });
  });
} else {
  test('remote control and events on redis', { skip: 'redis-server is not installed' }, () => {});
}
