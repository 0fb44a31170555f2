import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError } from '../../errors.js';
import { KeyLayout, topicPattern } from './keys.js';
import { transportSettings } from './options.js';
import { maskRedisUrl, parseRedisUrl } from './url.js';

void describe('Redis URLs', () => {
  void test('redis:// with password, port and db', () => {
    const e = parseRedisUrl('redis://:s3cret@example.com:6390/2', {}, 'brokerUrl');
    assert.equal(e.kind, 'standalone');
    assert.equal(e.db, 2);
    assert.deepEqual(
      {
        host: e.connection.host,
        port: e.connection.port,
        db: e.connection.db,
        password: e.connection.password,
      },
      { host: 'example.com', port: 6390, db: 2, password: 's3cret' },
    );
    assert.equal(e.connection.username, undefined);
    assert.equal(e.displayUrl, 'redis://:**@example.com:6390/2');
    assert.equal(e.connection.tls, undefined);
  });

  void test('defaults: localhost, 6379, db 0; user:password is ACL auth', () => {
    const e = parseRedisUrl('redis://localhost', {}, 'brokerUrl');
    assert.deepEqual([e.connection.host, e.connection.port, e.db], ['localhost', 6379, 0]);
    const acl = parseRedisUrl('redis://alice:pw%40x@h/0', {}, 'brokerUrl');
    assert.deepEqual([acl.connection.username, acl.connection.password], ['alice', 'pw@x']);
    assert.equal(acl.displayUrl, 'redis://alice:**@h/0');
  });

  void test('rediss:// turns TLS on, with CA/cert/key files from the options or the URL query', () => {
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-tls-'));
    for (const name of ['ca.pem', 'cert.pem', 'key.pem'])
      writeFileSync(join(dir, name), `-----${name}-----`);
    const e = parseRedisUrl(
      'rediss://h:6380/1',
      {
        ssl_ca_certs: join(dir, 'ca.pem'),
        sslCertfile: join(dir, 'cert.pem'),
        ssl_keyfile: join(dir, 'key.pem'),
      },
      'brokerUrl',
    );
    const tls = e.connection.tls!;
    assert.deepEqual(tls.ca, Buffer.from('-----ca.pem-----'));
    assert.deepEqual(tls.cert, Buffer.from('-----cert.pem-----'));
    assert.deepEqual(tls.key, Buffer.from('-----key.pem-----'));
    assert.equal(tls.rejectUnauthorized, undefined);
    const q = parseRedisUrl(
      `rediss://h/0?ssl_cert_reqs=CERT_NONE&ssl_ca_certs=${join(dir, 'ca.pem')}`,
      {},
      'brokerUrl',
    );
    assert.equal(q.connection.tls?.rejectUnauthorized, false);
    assert.deepEqual(q.connection.tls?.ca, Buffer.from('-----ca.pem-----'));
    assert.throws(
      () => parseRedisUrl('rediss://h/0', { sslCaCerts: join(dir, 'missing.pem') }, 'brokerUrl'),
      (e: unknown) => e instanceof ConfigError && /missing\.pem/.test(e.message),
    );
  });

  void test('sentinel:// lists, master name from the options', () => {
    const e = parseRedisUrl(
      'sentinel://:pw@s1:26379/3;sentinel://s2:26380',
      { master_name: 'mymaster' },
      'brokerUrl',
    );
    assert.equal(e.kind, 'sentinel');
    assert.deepEqual(e.connection.sentinels, [
      { host: 's1', port: 26379 },
      { host: 's2', port: 26380 },
    ]);
    assert.equal(e.connection.name, 'mymaster');
    assert.equal(e.connection.password, 'pw');
    assert.equal(e.db, 3);
    assert.equal(e.displayUrl, 'sentinel://:**@s1:26379/3;sentinel://s2:26380');
    assert.equal(
      parseRedisUrl('sentinel://s1', { masterName: 'm' }, 'x').connection.sentinels?.[0]?.port,
      26379,
    );
    assert.throws(
      () => parseRedisUrl('sentinel://s1:26379', {}, 'brokerUrl'),
      (e: unknown) => e instanceof ConfigError && /masterName/.test(e.message),
    );
  });

  void test('Unix sockets', () => {
    const e = parseRedisUrl('redis+socket:///run/redis.sock?virtual_host=4', {}, 'brokerUrl');
    assert.equal(e.kind, 'socket');
    assert.equal(e.connection.path, '/run/redis.sock');
    assert.equal(e.db, 4);
  });

  void test('bad URLs fail with URL_INVALID naming the setting, password masked', () => {
    for (const url of ['http://h', 'redis://:pw@h/notadb', 'redis://[bad']) {
      assert.throws(
        () => parseRedisUrl(url, {}, 'brokerUrl'),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.code === 'URL_INVALID' &&
          /brokerUrl/.test(e.message) &&
          !/pw@/.test(e.message),
      );
    }
    assert.equal(
      maskRedisUrl('redis://u:p@h/0;sentinel://:q@s'),
      'redis://u:**@h/0;sentinel://:**@s',
    );
  });
});

void describe('transport options and key layout', () => {
  void test("kombu's defaults, snake_case or camelCase options", () => {
    const s = transportSettings({});
    assert.equal(s.visibilityTimeout, 3600);
    assert.equal(s.unackedMutexExpire, 300);
    assert.deepEqual(s.prioritySteps, [0, 3, 6, 9]);
    assert.equal(s.sep, '\x06\x16');
    const t = transportSettings({
      visibility_timeout: 10,
      globalKeyprefix: 'pfx:',
      priority_steps: [0, 5],
    });
    assert.equal(t.visibilityTimeout, 10);
    assert.equal(t.touchInterval, 2.5);
    assert.equal(t.globalKeyprefix, 'pfx:');
    assert.deepEqual(t.prioritySteps, [0, 5]);
    assert.throws(() => transportSettings({ visibilityTimeout: -1 }), ConfigError);
    assert.throws(() => transportSettings({ wakeMode: 'poll' }), ConfigError);
    // Hand-off: off unless asked for; its lists go stale after 3 idle re-checks, a minute at least.
    assert.equal(transportSettings({}).handOff, false);
    assert.equal(transportSettings({ hand_off: true }).handOff, true);
    assert.throws(() => transportSettings({ handOff: 'yes' }), /must be true or false/);
    assert.equal(transportSettings({}).handOffStaleAfter, 60);
    assert.equal(transportSettings({ idleRecheckInterval: 30 }).handOffStaleAfter, 90);
    assert.throws(
      () => transportSettings({ handOffStaleAfter: 5, idleRecheckInterval: 10 }),
      /must be longer than idleRecheckInterval/,
    );
    // ackDelay: 2 ms unless told; 0 (no wait for a claim) is allowed, a negative one is not.
    assert.equal(transportSettings({}).ackDelay, 0.002);
    assert.equal(transportSettings({ ack_delay: 0 }).ackDelay, 0);
    assert.throws(() => transportSettings({ ackDelay: -1 }), /non-negative number of seconds/);
  });

  void test('queue keys, priority steps, bindings and fanout channels as kombu names them', () => {
    const k = new KeyLayout({ db: 0 });
    assert.deepEqual(
      [0, 2, 3, 5, 6, 8, 9, 12, -1].map((p) => k.queueKey('celery', p)),
      [
        'celery',
        'celery',
        'celery\x06\x163',
        'celery\x06\x163',
        'celery\x06\x166',
        'celery\x06\x166',
        'celery\x06\x169',
        'celery\x06\x169',
        'celery',
      ],
    );
    assert.deepEqual(
      k.consumeKeys(['celery', 'extra']).map((c) => c.key),
      [
        'celery',
        'extra',
        'celery\x06\x163',
        'extra\x06\x163',
        'celery\x06\x166',
        'extra\x06\x166',
        'celery\x06\x169',
        'extra\x06\x169',
      ],
    );
    assert.equal(k.bindingKey('celery'), '_kombu.binding.celery');
    assert.equal(k.bindingMember('celery', '', 'celery'), 'celery\x06\x16\x06\x16celery');
    assert.equal(k.publishChannel('celeryev', 'worker.heartbeat'), '/0.celeryev/worker.heartbeat');
    assert.equal(k.publishChannel('celery.pidbox', ''), '/0.celery.pidbox');
    assert.equal(k.subscribePattern('celeryev', 'worker.#'), '/0.celeryev/worker.*');
    assert.equal(k.subscribePattern('celeryev', '#'), '/0.celeryev/*');
    const p = new KeyLayout({ db: 3, globalKeyprefix: 'app:', fanoutPatterns: false });
    assert.equal(p.queueKey('q', 9), 'app:q\x06\x169');
    assert.equal(p.unacked, 'app:unacked');
    assert.equal(p.bindingKey('x'), 'app:_kombu.binding.x');
    assert.equal(p.publishChannel('celeryev', 'task.sent'), 'app:/3.celeryev');
    assert.equal(new KeyLayout({ db: 1, fanoutPrefix: false }).publishChannel('e', 'k'), 'e/k');
  });

  void test("topic binding patterns are kombu's key_to_pattern regexes", () => {
    assert.equal(topicPattern('a.#'), '^a\\..*?$');
    assert.equal(topicPattern('*.sent'), '^.*?[^\\.]\\.sent$');
    assert.equal(topicPattern('a-b.c'), '^a\\-b\\.c$');
  });
});
