/** The worker-runtime suite on Redis (the test command's shared redis-server, db 8). */
import { test } from 'node:test';
import { startRedis } from '../support/servers.js';
import { runtimeSuite } from './worker-runtime.shared.js';

if (process.env.CELERIAC_TEST_REDIS_URL) {
  runtimeSuite({
    name: 'redis',
    url: async () => (await startRedis({ db: 8, flush: true })).url,
    // On Redis (as with kombu) the messages a SIGKILLed worker held come back after the
    // visibility timeout; a short one keeps the SIGKILL test short. Live workers extend it.
    env: { VISIBILITY_TIMEOUT: '4' },
  });
} else {
  test(
    'worker runtime on redis',
    { skip: 'no test Redis (run through scripts/test.sh, which starts one)' },
    () => {},
  );
}
