/**
 * The Redis result backend against a real redis-server: the shared backend contract, plus
 * Celery's exact keys and commands (see redis-backend-layout.test.ts).
 */
import { after } from 'node:test';
import { backendContract } from '../../src/backend/backend.contract.js';
import { createRedisBackend } from '../../src/backend/redis.js';
import { startRedis } from '../support/servers.js';

const server = await startRedis();
after(() => server.stop());

backendContract('redis', async () => ({
  backend: createRedisBackend(server.url),
  cleanup: async () => undefined,
  peer: async () => createRedisBackend(server.url),
}));
