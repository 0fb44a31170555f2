/**
 * Servers for tests. Import from here:
 *
 *   const redis = await startRedis();                  // shared server when scripts/test.sh runs us
 *   const own = await startRedis({ private: true });    // a server of this test's own (restartable)
 *   const amqp = await startRabbitMQ();
 *   after(() => redis.stop());                           // always; a no-op on the shared server
 */
export { startRedis, redisAvailable, redisServerPath, SHARED_REDIS_ENV } from './redis.js';
export type { RedisServer, StartRedisOptions } from './redis.js';
export {
  startRabbitMQ,
  rabbitmqAvailable,
  rabbitmqServerPath,
  SHARED_AMQP_ENV,
} from './rabbitmq.js';
export type { RabbitMQServer, StartRabbitMQOptions } from './rabbitmq.js';
export { freePort, LOOPBACK } from './net.js';
