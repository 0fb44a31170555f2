/**
 * Times on the wire (spec §0.2): header `eta`/`expires` as Python's aware `isoformat()`,
 * result `date_done` as naive UTC, and a liberal ISO 8601 reader.
 *
 * Instants are epoch milliseconds; fractions of a millisecond are kept to the microsecond,
 * so a Python `eta` of `...05.678901+00:00` reads as `...5678.901` and is written back the same.
 */
import { DecodeError } from '../errors.js';
import { formatIsoUtc } from '../serialization/isodate.js';

/** `2030-01-02T03:04:05.678000+00:00` (no fraction when it is zero), as Celery writes eta/expires. */
export function toPythonIso(ms: number): string {
  return formatIsoUtc(ms, '+00:00');
}

/** `2026-11-25T05:43:22.702000` (naive UTC), as Celery writes `date_done`. */
export function toNaiveUtcIso(ms: number): string {
  return formatIsoUtc(ms, '');
}

/**
 * `YYYY-MM-DD`, optionally followed by `T` (or any one character, as Celery's parser allows),
 * `hh:mm`, `:ss`, a fraction of any length, and `Z`, `±hh:mm`, `±hhmm` or `±hh`.
 */
const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:.(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Parses an ISO 8601 date-time to epoch ms. Accepts `+00:00`, `Z`, other offsets, and naive
 * strings (read as UTC, as Celery does with its default `enable_utc`), with or without a
 * fraction of any length (kept to the microsecond).
 * @throws DecodeError naming the string when it is not such a date.
 */
export function parseIsoDate(s: string): number {
  const m = ISO_RE.exec(s.trim());
  if (m === null) throw bad(s);
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac, tz] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(sec);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) throw bad(s);
  const base = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(base);
  // Date.UTC maps years 0-99 to 1900-1999; fix that, then reject days like 02-30.
  if (year < 100) check.setUTCFullYear(year);
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month - 1) throw bad(s);
  let ms = check.getTime();
  if (frac !== undefined) ms += Number(`0.${frac.slice(0, 6)}`) * 1000;
  if (tz !== undefined && tz !== 'Z' && tz !== 'z') {
    const sign = tz[0] === '-' ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0');
    ms -= sign * offsetMin * 60_000;
  }
  return Math.round(ms * 1000) / 1000;
}

function bad(s: string): DecodeError {
  return new DecodeError(`not an ISO 8601 date: ${JSON.stringify(s)}`, {
    hint: "use a form like '2030-01-02T03:04:05.678901+00:00'",
  });
}
