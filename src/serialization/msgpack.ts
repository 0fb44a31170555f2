/**
 * `application/x-msgpack` as kombu 5.2.4 writes it (`use_bin_type=True`, read with
 * `raw=False`): strings as str, Buffers as bin, maps with string keys (spec §i.1).
 *
 * Value semantics match the JSON serializer so a task sees the same values whichever
 * serializer carried them: `Date` becomes kombu's ISO string, `undefined` in arrays becomes
 * null and is dropped from objects, functions and symbols are refused. Integers beyond
 * 32 bits are written as msgpack ints (msgpackr would write a float64, which Python would
 * read as `1099511627776.0`). Python int64 values decode to numbers when safe, else BigInt.
 */
import { Packr } from 'msgpackr';
import { DecodeError, EncodeError } from '../errors.js';
import { formatIsoUtc } from './isodate.js';

/**
 * Codec configuration. msgpackr keeps a scratch buffer inside the instance, but pack and
 * unpack are synchronous and leave no state behind between calls; creating one per call
 * would cost ~13 µs. `int64AsType: 'auto'` (numbers when safe, else BigInt) is supported by
 * msgpackr 2.1.4 at run time but missing from its type declarations, hence the cast.
 */
const codec = new Packr({
  useRecords: false,
  variableMapSize: true,
  int64AsType: 'auto' as unknown as 'bigint',
});

/**
 * Encodes a value as msgpack.
 * @throws EncodeError naming the path of a value msgpack cannot carry.
 */
export function msgpackEncode(value: unknown): Buffer {
  const prepared = prepare(value, [], new Set());
  try {
    // msgpackr returns a view into its shared 8 KB scratch buffer (with an extra `dataView`
    // property); copy so messages held in queues neither pin nor share that memory.
    return Buffer.from(codec.pack(prepared));
  } catch (err) {
    throw new EncodeError(`cannot encode as msgpack: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Decodes msgpack bytes (bin values become Buffers).
 * @throws DecodeError on malformed or truncated data.
 */
export function msgpackDecode(body: Buffer): unknown {
  try {
    return codec.unpack(body);
  } catch (err) {
    throw new DecodeError(`invalid msgpack data: ${(err as Error).message}`, { cause: err });
  }
}

const INT32_MIN = -0x80000000;
const UINT32_MAX = 0xffffffff;

/** Returns `v` itself when nothing needs converting, else a converted copy. */
function prepare(v: unknown, path: (string | number)[], seen: Set<object>): unknown {
  switch (typeof v) {
    case 'number':
      return Number.isSafeInteger(v) && (v < INT32_MIN || v > UINT32_MAX) ? BigInt(v) : v;
    case 'function':
    case 'symbol':
      throw new EncodeError(`${where(path)}: ${typeof v}s cannot be serialized to msgpack`);
    case 'object':
      if (v === null || Buffer.isBuffer(v)) return v;
      if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      if (v instanceof Date) return formatIsoUtc(v.getTime(), 'Z');
      if (v instanceof Map || v instanceof Set || v instanceof Promise || v instanceof Error) {
        throw new EncodeError(
          `${where(path)}: a ${v.constructor.name} cannot be serialized to msgpack`,
        );
      }
      if (seen.has(v))
        throw new EncodeError(`${where(path)}: circular reference: the value contains itself`);
      seen.add(v);
      try {
        return Array.isArray(v)
          ? prepareArray(v, path, seen)
          : prepareObject(v as Record<string, unknown>, path, seen);
      } finally {
        seen.delete(v);
      }
    case 'bigint':
    case 'boolean':
    case 'string':
    case 'undefined':
      return v;
  }
}

function prepareArray(
  arr: readonly unknown[],
  path: (string | number)[],
  seen: Set<object>,
): unknown[] {
  let copy: unknown[] | undefined;
  for (let i = 0; i < arr.length; i++) {
    path.push(i);
    const item = arr[i];
    const next = item === undefined ? null : prepare(item, path, seen);
    path.pop();
    if (next !== item && copy === undefined) copy = arr.slice(0, i);
    if (copy !== undefined) copy.push(next);
  }
  return copy ?? (arr as unknown[]);
}

function prepareObject(
  obj: Record<string, unknown>,
  path: (string | number)[],
  seen: Set<object>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let changed = Object.getPrototypeOf(obj) !== Object.prototype;
  for (const key of Object.keys(obj)) {
    const item = obj[key];
    if (item === undefined) {
      changed = true;
      continue;
    }
    path.push(key);
    const next = prepare(item, path, seen);
    path.pop();
    if (next !== item) changed = true;
    out[key] = next;
  }
  return changed ? out : obj;
}

function where(path: readonly (string | number)[]): string {
  if (path.length === 0) return 'value';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
