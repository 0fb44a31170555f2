/**
 * The Redis transport against a real redis-server: the shared transport contract, plus
 * what only Redis has (kombu's layout, restores, wake-ups, reconnects) in redis-*.test.ts.
 */
import { after } from 'node:test';
import { createRedisTransport } from '../../src/transport/redis/index.js';
import { transportContract } from '../../src/transport/transport.contract.js';
import { startRedis } from '../support/servers.js';

const server = await startRedis();
after(() => server.stop());

transportContract('redis', async () => ({
  transport: createRedisTransport(server.url, {}),
  cleanup: async () => undefined,
  peer: async () => createRedisTransport(server.url, {}),
}));
