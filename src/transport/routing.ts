/**
 * Routing rules shared by the embedded transports (memory, SQLite): kombu's Redis priority
 * steps, AMQP topic matching for binding keys, and exchange → queue resolution.
 */
import type { QueueSpec, Route } from './types.js';

/** kombu's Redis priority steps: a priority p is served from the highest step ≤ p. */
export const PRIORITY_STEPS = [0, 3, 6, 9] as const;

/**
 * The bucket (0..3) a priority falls in, lower served first, as kombu's Redis transport does:
 * 0-2 → 0, 3-5 → 1, 6-8 → 2, 9 → 3. Missing or invalid priorities count as 0.
 */
export function priorityBucket(priority: number | undefined | null): number {
  if (priority === undefined || priority === null || !Number.isFinite(priority)) return 0;
  const p = Math.min(9, Math.max(0, Math.trunc(priority)));
  let bucket = 0;
  for (let i = 0; i < PRIORITY_STEPS.length; i++) {
    if ((PRIORITY_STEPS[i] ?? 0) <= p) bucket = i;
  }
  return bucket;
}

/** Number of priority buckets. */
export const PRIORITY_BUCKETS = PRIORITY_STEPS.length;

/**
 * AMQP topic matching: words are separated by '.', `*` matches exactly one word, `#` matches
 * zero or more words. A binding key without wildcards matches only itself.
 */
export function topicMatches(bindingKey: string, routingKey: string): boolean {
  if (bindingKey === '#') return true;
  if (!bindingKey.includes('*') && !bindingKey.includes('#')) return bindingKey === routingKey;
  const pattern = bindingKey.split('.');
  const words = routingKey === '' ? [] : routingKey.split('.');
  return matchWords(pattern, 0, words, 0);
}

function matchWords(pattern: string[], p: number, words: string[], w: number): boolean {
  if (p === pattern.length) return w === words.length;
  const part = pattern[p];
  if (part === '#') {
    for (let skip = w; skip <= words.length; skip++) {
      if (matchWords(pattern, p + 1, words, skip)) return true;
    }
    return false;
  }
  if (w === words.length) return false;
  if (part === '*' || part === words[w]) return matchWords(pattern, p + 1, words, w + 1);
  return false;
}

/** A stored binding: messages published to `exchange` whose key matches go to `queue`. */
export interface Binding {
  exchange: string;
  exchangeType: 'direct' | 'topic' | 'fanout';
  routingKey: string;
  queue: string;
}

/** The binding a QueueSpec declares (direct on the queue's own name when nothing is given). */
export function bindingOf(spec: QueueSpec): Binding {
  return {
    exchange: spec.exchange ?? spec.name,
    exchangeType: spec.exchangeType ?? 'direct',
    routingKey: spec.routingKey ?? spec.name,
    queue: spec.name,
  };
}

/**
 * The queues a route delivers to. The default exchange ('') routes to the queue named by the
 * routing key. A named exchange uses its bindings; an exchange nobody declared falls back to
 * the queue named by the routing key (Celery's usual setup, where exchange = queue = key).
 */
export function resolveQueues(route: Route, bindings: readonly Binding[]): string[] {
  if (route.exchange === '') return [route.routingKey];
  const own = bindings.filter((b) => b.exchange === route.exchange);
  if (own.length === 0) return [route.routingKey];
  const queues = new Set<string>();
  for (const b of own) {
    const hit =
      b.exchangeType === 'fanout' ||
      (b.exchangeType === 'topic'
        ? topicMatches(b.routingKey, route.routingKey)
        : b.routingKey === route.routingKey);
    if (hit) queues.add(b.queue);
  }
  return [...queues];
}
