/**
 * Celery's exponential backoff (celery.utils.time.get_exponential_backoff_interval):
 * `factor * 2 ** retries`, capped at `maximum`, then with full jitter a random value in
 * [0, countdown]. Returns seconds.
 */
export function exponentialBackoff(options: {
  factor: number;
  retries: number;
  maximum: number;
  fullJitter: boolean;
  random?: (() => number) | undefined;
}): number {
  const countdown = Math.min(options.maximum, options.factor * 2 ** options.retries);
  if (!options.fullJitter) return Math.max(0, countdown);
  const random = options.random ?? Math.random;
  return Math.max(0, Math.floor(random() * (countdown + 1)));
}
