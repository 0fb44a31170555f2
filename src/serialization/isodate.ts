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
  return withMicros(formatSecond((totalMicros - micros) / 1000), micros, suffix);
}

/**
 * {@link formatIsoUtc} that keeps the last second it formatted: a worker stores thousands of
 * results a second, each with its date_done, and building the Date and its six fields was
 * most of the cost. One per owner (the worker's meta writer), not a module-level cache.
 */
export class IsoUtcFormatter {
  #second = NaN;
  #text = '';

  format(ms: number, suffix: string): string {
    const totalMicros = Math.round(ms * 1000);
    const micros = ((totalMicros % 1_000_000) + 1_000_000) % 1_000_000;
    const second = (totalMicros - micros) / 1000;
    if (second !== this.#second) {
      this.#second = second;
      this.#text = formatSecond(second);
    }
    return withMicros(this.#text, micros, suffix);
  }
}

/** The fraction as Python writes it: 6 digits, left out when zero. */
function withMicros(text: string, micros: number, suffix: string): string {
  return micros === 0 ? text + suffix : text + '.' + pad(micros, 6) + suffix;
}

/** `YYYY-MM-DDThh:mm:ss` of a whole second (epoch ms). */
function formatSecond(second: number): string {
  const d = new Date(second);
  return (
    pad(d.getUTCFullYear(), 4) +
    '-' +
    pad(d.getUTCMonth() + 1, 2) +
    '-' +
    pad(d.getUTCDate(), 2) +
    'T' +
    pad(d.getUTCHours(), 2) +
    ':' +
    pad(d.getUTCMinutes(), 2) +
    ':' +
    pad(d.getUTCSeconds(), 2)
  );
}

function pad(n: number, width: number): string {
  const s = String(n);
  return s.length >= width ? s : '0'.repeat(width - s.length) + s;
}
