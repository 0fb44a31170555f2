/**
 * JSON encoding with kombu 5.2.4's value semantics (spec §0.4, §i.2).
 *
 * - `pyDumps`: byte-for-byte what Python's `json.dumps` writes (`", "` / `": "` separators,
 *   `ensure_ascii`, bare `NaN`/`Infinity`), for golden tests and result metas.
 * - `fastDumps`: the same values as compact JSON (Python reads it fine); plain data goes
 *   straight to the native `JSON.stringify`, so it costs no more than that on the hot path.
 *
 * Both write BigInt as an integer, `Date` as kombu does (`2024-05-06T07:08:09.123000Z`), call
 * `toJSON()` like `JSON.stringify`, and refuse (EncodeError naming the path) what Python could
 * not read back: bytes, functions, symbols, Map/Set, Errors, Promises, cycles.
 */
import { EncodeError } from '../errors.js';
import { formatIsoUtc } from './isodate.js';
import { pyJsonNumber } from './pyfloat.js';

/**
 * Python's `json.dumps(value)` with default settings, as kombu 5.2.4 calls it.
 * @throws EncodeError naming the path of the first value that cannot be serialized.
 */
export function pyDumps(value: unknown): string {
  return encodeRoot(value, true);
}

/**
 * Compact JSON with the same value semantics as {@link pyDumps}. Uses the native
 * `JSON.stringify` when the value is plain JSON data (the usual case), otherwise a
 * JavaScript encoder. Non-ASCII characters are written as UTF-8, not escaped.
 * @throws EncodeError naming the path of the first value that cannot be serialized.
 */
export function fastDumps(value: unknown): string {
  if (isPlainJson(value, 0)) return JSON.stringify(value) ?? 'null';
  return encodeRoot(value, false);
}

/** Nesting depth after which the plain-data check gives up and lets the encoder decide. */
const PLAIN_CHECK_MAX_DEPTH = 64;

/**
 * True when `JSON.stringify(value)` gives exactly what our encoder would: only strings,
 * finite numbers, booleans, null, undefined, arrays and plain objects, no cycles.
 */
function isPlainJson(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return true;
    case 'number':
      return Number.isFinite(v);
    case 'object': {
      if (v === null) return true;
      if (depth > PLAIN_CHECK_MAX_DEPTH) return false;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!isPlainJson(v[i], depth + 1)) return false;
        return true;
      }
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return false;
      const obj = v as Record<string, unknown>;
      for (const key in obj) if (!isPlainJson(obj[key], depth + 1)) return false;
      return true;
    }
    case 'bigint':
    case 'function':
    case 'symbol':
      return false;
  }
}

/** Thrown inside the encoder; collects the path while unwinding. */
class PathError extends Error {
  readonly path: (string | number)[] = [];
}

function encodeRoot(value: unknown, python: boolean): string {
  const enc = new Encoder(python);
  try {
    return enc.encode(value, '') ?? 'null';
  } catch (err) {
    if (err instanceof PathError) {
      const where = formatPath(err.path);
      throw new EncodeError(`${where}: ${err.message}`);
    }
    throw err;
  }
}

function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return 'value';
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

const BYTES_MESSAGE = 'bytes are not JSON serializable, as in Python; use msgpack or base64';

class Encoder {
  /** Containers being encoded, outermost first (cycle detection). */
  private readonly ancestors: object[] = [];
  private readonly sep: string;
  private readonly colon: string;

  constructor(private readonly python: boolean) {
    this.sep = python ? ', ' : ',';
    this.colon = python ? ': ' : ':';
  }

  /** Returns undefined for values JSON omits from objects (undefined). */
  encode(v: unknown, key: string | number): string | undefined {
    switch (typeof v) {
      case 'string':
        return this.python ? quotePython(v) : JSON.stringify(v);
      case 'number':
        return this.python ? pyJsonNumber(v) : compactNumber(v);
      case 'boolean':
        return v ? 'true' : 'false';
      case 'bigint':
        return v.toString();
      case 'undefined':
        return undefined;
      case 'function':
        throw new PathError('functions cannot be serialized to JSON');
      case 'symbol':
        throw new PathError('symbols cannot be serialized to JSON');
      case 'object':
        if (v === null) return 'null';
        if (Array.isArray(v)) return this.encodeArray(v);
        return this.encodeObject(v, key);
    }
  }

  private encodeObject(v: object, key: string | number): string {
    const proto: unknown = Object.getPrototypeOf(v);
    if (
      (proto === Object.prototype || proto === null) &&
      typeof (v as { toJSON?: unknown }).toJSON !== 'function'
    ) {
      return this.encodePlainObject(v as Record<string, unknown>);
    }
    if (v instanceof Date) {
      const t = v.getTime();
      if (Number.isNaN(t)) throw new PathError('an invalid Date cannot be serialized');
      return `"${formatIsoUtc(t, 'Z')}"`;
    }
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof SharedArrayBuffer) {
      throw new PathError(BYTES_MESSAGE);
    }
    if (v instanceof Map)
      throw new PathError(
        'a Map cannot be serialized to JSON; convert it with Object.fromEntries()',
      );
    if (v instanceof Set)
      throw new PathError('a Set cannot be serialized to JSON; convert it with Array.from()');
    if (v instanceof Error) {
      throw new PathError(
        `an Error (${v.name}) cannot be serialized to JSON; throw it, or return {name, message}`,
      );
    }
    if (v instanceof Promise)
      throw new PathError('a Promise cannot be serialized to JSON; did you forget an await?');
    if (v instanceof Number || v instanceof String || v instanceof Boolean) {
      return this.encode(v.valueOf(), key) ?? 'null';
    }
    const toJSON = (v as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      const replaced: unknown = toJSON.call(v, String(key));
      if (replaced === v) return this.encodePlainObject(v as Record<string, unknown>);
      this.enter(v);
      const out = this.encode(replaced, key) ?? 'null';
      this.ancestors.pop();
      return out;
    }
    return this.encodePlainObject(v as Record<string, unknown>);
  }

  private enter(v: object): void {
    if (this.ancestors.includes(v))
      throw new PathError('circular reference: the value contains itself');
    this.ancestors.push(v);
  }

  private encodeArray(arr: readonly unknown[]): string {
    if (arr.length === 0) return '[]';
    this.enter(arr);
    let out = '[';
    let i = 0;
    try {
      for (; i < arr.length; i++) {
        if (i > 0) out += this.sep;
        out += this.encode(arr[i], i) ?? 'null';
      }
    } catch (err) {
      if (err instanceof PathError) err.path.unshift(i);
      throw err;
    }
    this.ancestors.pop();
    return out + ']';
  }

  private encodePlainObject(obj: Record<string, unknown>): string {
    this.enter(obj);
    let out = '{';
    let first = true;
    let key = '';
    try {
      for (key in obj) {
        if (!Object.prototype.hasOwnProperty.call(obj, key)) continue;
        const encoded = this.encode(obj[key], key);
        if (encoded === undefined) continue;
        if (first) first = false;
        else out += this.sep;
        out += (this.python ? quotePython(key) : JSON.stringify(key)) + this.colon + encoded;
      }
    } catch (err) {
      if (err instanceof PathError) err.path.unshift(key);
      throw err;
    }
    this.ancestors.pop();
    return out + '}';
  }
}

function compactNumber(x: number): string {
  if (Number.isFinite(x)) return String(x);
  return x !== x ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity';
}

const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;

/** Python's `json` string quoting with `ensure_ascii=True` (escapes DEL and all non-ASCII). */
export function quotePython(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return '"' + s + '"';
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c) continue;
    if (i > start) out += s.slice(start, i);
    start = i + 1;
    switch (c) {
      case 0x22:
        out += '\\"';
        break;
      case 0x5c:
        out += '\\\\';
        break;
      case 0x0a:
        out += '\\n';
        break;
      case 0x0d:
        out += '\\r';
        break;
      case 0x09:
        out += '\\t';
        break;
      case 0x08:
        out += '\\b';
        break;
      case 0x0c:
        out += '\\f';
        break;
      default:
        out += '\\u' + c.toString(16).padStart(4, '0');
    }
  }
  if (start < s.length) out += s.slice(start);
  return out + '"';
}
