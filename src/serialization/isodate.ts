/**
 * ISO 8601 formatting the way Python's `datetime.isoformat()` writes it. Lives here (not in
 * protocol/) because the JSON encoder needs it for `Date` values; protocol/time.ts builds on it.
 */

/**
 * Formats an epoch-milliseconds instant (fractions of a millisecond are kept to the
 * microsecond) as Python's `datetime.isoformat()` of that UTC instant, followed by `suffix`:
 * `+00:00` for Celery headers, `Z` for kombu's JSON encoder, `''` for naive UTC.
 * The fractional part is written as 6 digits, and omitted when it is zero, as Python does.
 */
export function formatIsoUtc(ms: number, suffix: string): string {
  const totalMicros = Math.round(ms * 1000);
  const micros = ((totalMicros % 1_000_000) + 1_000_000) % 1_000_000;
  const d = new Date((totalMicros - micros) / 1000);
  const year = d.getUTCFullYear();
  const text =
    pad(year, 4) +
    '-' +
    pad(d.getUTCMonth() + 1, 2) +
    '-' +
    pad(d.getUTCDate(), 2) +
    'T' +
    pad(d.getUTCHours(), 2) +
    ':' +
    pad(d.getUTCMinutes(), 2) +
    ':' +
    pad(d.getUTCSeconds(), 2);
  return micros === 0 ? text + suffix : text + '.' + pad(micros, 6) + suffix;
}

function pad(n: number, width: number): string {
  const s = String(n);
  return s.length >= width ? s : '0'.repeat(width - s.length) + s;
}
