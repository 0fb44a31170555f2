/**
 * `celeriac/redis`: the Redis transport (kombu's layout, shared with Python Celery workers).
 */
export { createRedisTransport, RedisTransport } from './transport.js';
export type { RedisTransportOptions } from './transport.js';
export { RedisConsumer } from './consumer.js';
export type { RedisTransportSettings, WakeMode } from './options.js';
export { KeyLayout, topicPattern, KOMBU_SEP, KOMBU_PRIORITY_STEPS } from './keys.js';
export { parseRedisUrl, maskRedisUrl } from './url.js';
export type { RedisEndpoint } from './url.js';
