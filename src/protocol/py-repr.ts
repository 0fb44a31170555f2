/**
 * Python's `repr()` of JS values, as a Python process would print the same data:
 * `None`, `True`, `'str'` (Python's quoting), `[1, 2]`, `{'a': 1}`, `1.0`, `nan`, `b'..'`.
 */
import { pyFloatRepr } from '../serialization/pyfloat.js';

/**
 * Python `repr()` of a value. Safe integers print as ints, other numbers as floats; arrays
 * as lists, objects and Maps as dicts, Sets as sets, Buffers as bytes, Dates as aware UTC
 * `datetime.datetime(...)`, Errors as `Name('message')`. Cycles print as `[...]` / `{...}`.
 */
export function pyRepr(value: unknown): string {
  return reprValue(value, []);
}

/** Python `repr()` of a number: `5`, `5.5`, `1e+16`, `nan`, `inf`. */
export function pyNumberRepr(x: number): string {
  return Number.isSafeInteger(x) && !Object.is(x, -0) ? String(x) : pyFloatRepr(x);
}

function reprValue(v: unknown, ancestors: object[]): string {
  switch (typeof v) {
    case 'undefined':
      return 'None';
    case 'boolean':
      return v ? 'True' : 'False';
    case 'number':
      return pyNumberRepr(v);
    case 'bigint':
      return v.toString();
    case 'string':
      return pyStrRepr(v);
    case 'symbol':
      return v.toString();
    case 'function':
      return `<function ${v.name || '<anonymous>'}>`;
    case 'object':
      if (v === null) return 'None';
      if (v instanceof Uint8Array) return pyBytesRepr(v);
      if (v instanceof Date) return datetimeRepr(v);
      if (v instanceof Error) return `${v.name}(${pyStrRepr(v.message)})`;
      if (ancestors.includes(v)) return Array.isArray(v) ? '[...]' : '{...}';
      ancestors.push(v);
      try {
        return containerRepr(v, ancestors);
      } finally {
        ancestors.pop();
      }
  }
}

function containerRepr(v: object, ancestors: object[]): string {
  if (Array.isArray(v)) return '[' + v.map((x) => reprValue(x, ancestors)).join(', ') + ']';
  if (v instanceof Set) {
    if (v.size === 0) return 'set()';
    return '{' + [...v].map((x) => reprValue(x, ancestors)).join(', ') + '}';
  }
  const entries: [unknown, unknown][] =
    v instanceof Map ? [...v.entries()] : Object.entries(v as Record<string, unknown>);
  return (
    '{' +
    entries.map(([k, x]) => reprValue(k, ancestors) + ': ' + reprValue(x, ancestors)).join(', ') +
    '}'
  );
}

/** Characters Python's `str.isprintable()` rejects (space excepted). */
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;
const NEEDS_STR_ESCAPE = /[\\'\u0000-\u001f\u007f-\uffff]/;

/** Python `repr()` of a str: single quotes unless the text has `'` and no `"`. */
export function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  if (!NEEDS_STR_ESCAPE.test(s)) return quote + s + quote;
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + hex(c, 2);
    else if (c < 0x7f || !NON_PRINTABLE.test(ch)) out += ch;
    else if (c <= 0xff) out += '\\x' + hex(c, 2);
    else if (c <= 0xffff) out += '\\u' + hex(c, 4);
    else out += '\\U' + hex(c, 8);
  }
  return out + quote;
}

/** Python `repr()` of bytes: `b'abc\x00'`. */
export function pyBytesRepr(b: Uint8Array): string {
  let hasSingle = false;
  let hasDouble = false;
  for (const c of b) {
    if (c === 0x27) hasSingle = true;
    else if (c === 0x22) hasDouble = true;
  }
  const quote = hasSingle && !hasDouble ? 0x22 : 0x27;
  let out = 'b' + String.fromCharCode(quote);
  for (const c of b) {
    if (c === quote || c === 0x5c) out += '\\' + String.fromCharCode(c);
    else if (c === 0x09) out += '\\t';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c < 0x20 || c >= 0x7f) out += '\\x' + hex(c, 2);
    else out += String.fromCharCode(c);
  }
  return out + String.fromCharCode(quote);
}

/** `datetime.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=datetime.timezone.utc)`. */
function datetimeRepr(d: Date): string {
  if (Number.isNaN(d.getTime())) return 'Invalid Date';
  const parts = [
    d.getUTCFullYear(),
    d.getUTCMonth() + 1,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
    d.getUTCMilliseconds() * 1000,
  ];
  // Python drops a zero microsecond, then a zero second.
  if (parts[6] === 0) {
    parts.pop();
    if (parts[5] === 0) parts.pop();
  }
  return `datetime.datetime(${parts.join(', ')}, tzinfo=datetime.timezone.utc)`;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}
