/**
 * kombu's virtual routing over the `_kombu.binding.<exchange>` sets: which queues a message
 * published to a named exchange goes to. The exchange's type is only known where it was
 * declared (kombu keeps it in process memory too), and defaults to direct, as kombu's.
 */
import { topicMatches } from '../routing.js';
import type { KeyLayout } from './keys.js';

/** Exchange types as declared in this process. */
export type ExchangeType = 'direct' | 'topic' | 'fanout';

/**
 * The queues of `members` (SMEMBERS of the binding set) that a message with `routingKey`
 * reaches. Topic bindings (declared here, or carrying kombu's regex pattern) match with AMQP
 * semantics on their binding key. An exchange with
 * no bindings at all routes to the queue named by the routing key (Celery's usual setup,
 * where exchange = queue = key; the embedded transports do the same).
 */
export function queuesFor(
  layout: KeyLayout,
  members: readonly string[],
  type: ExchangeType,
  routingKey: string,
): string[] {
  if (members.length === 0) return [routingKey];
  const out = new Set<string>();
  for (const member of members) {
    const b = layout.parseBindingMember(member);
    if (!b.queue) continue;
    // kombu writes a pattern only for topic bindings, so a binding with one is a topic binding
    // even when this process never declared the exchange.
    const topic = type === 'topic' || b.pattern !== '';
    const hit =
      type === 'fanout' ||
      (topic ? topicMatches(b.routingKey, routingKey) : b.routingKey === routingKey);
    if (hit) out.add(b.queue);
  }
  return [...out];
}
