/** Parses Celery rate limits: `'10/s'`, `'100/m'`, `'1000/h'`, or a bare number (per second). */
export function parseRateLimit(value: string | number): number | null {
  if (typeof value === 'number') return value > 0 ? value : null;
  const trimmed = value.trim();
  if (trimmed === '' || trimmed === '0') return null;
  const match = /^(\d+(?:\.\d+)?)\s*(?:\/\s*([smh]))?$/.exec(trimmed);
  if (!match) {
    throw new RangeError(
      `invalid rate limit '${value}': use a number of tasks per unit, like '10/s', '100/m' or '1000/h'`,
    );
  }
  const count = Number(match[1]);
  const unit = match[2] ?? 's';
  const perSecond = unit === 's' ? count : unit === 'm' ? count / 60 : count / 3600;
  return perSecond > 0 ? perSecond : null;
}

/** Seconds or a Date or an ISO string to epoch milliseconds, relative to `now` for numbers. */
export function toEpochMs(value: number | Date | string, now: number): number {
  if (typeof value === 'number') return now + value * 1000;
  if (value instanceof Date) return value.getTime();
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) {
    throw new RangeError(`'${value}' is not a date: give an ISO 8601 string, a Date or seconds`);
  }
  return parsed;
}
