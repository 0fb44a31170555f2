/**
 * The Redis result backend (`redis://`, `rediss://`, `sentinel://`): Celery's keys, so
 * Python clients read what we store and the other way round.
 */
export { createRedisBackend, RedisBackend } from './redis/backend.js';
export type { RedisBackendOptions } from './redis/backend.js';
