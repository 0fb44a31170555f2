/**
 * The dead-letter queue: messages a worker cannot process (malformed, refused content type,
 * redelivered too often) are moved there untouched, with the reason in a header, so nothing
 * is lost silently. Inspect them with `celeriac purge -Q celeriac.dead_letter` or by
 * consuming that queue.
 */
import type { Celery } from '../app/celery.js';
import type { Delivery } from '../transport/types.js';

/** Moves the delivery's message to the dead-letter queue and acknowledges the original. */
export async function deadLetter(app: Celery, delivery: Delivery, reason: string): Promise<void> {
  const queue = app.conf.taskDeadLetterQueue;
  const transport = await app.connection();
  await transport.declare({ name: queue, exchange: queue, routingKey: queue });
  const message = {
    ...delivery.message,
    headers: {
      ...delivery.message.headers,
      'x-celeriac-dead-letter-reason': reason,
      'x-celeriac-original-queue': delivery.queue,
    },
  };
  await transport.publish(message, { exchange: '', routingKey: queue });
  await delivery.ack();
}
