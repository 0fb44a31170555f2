/**
 * How pool messages travel over a child process's IPC channel. Node's JSON channel is several
 * times cheaper than its 'advanced' (structured clone) one, but JSON loses Dates, BigInts,
 * NaN, typed arrays, Maps and undefined array items. So a message that is plain JSON data
 * (the usual case: a task's request and a small result) goes as JSON; any other message is
 * v8-serialized (structured clone semantics) into a base64 string inside a JSON envelope.
 */
import { deserialize, serialize } from 'node:v8';

/** The envelope of a message that is not plain JSON data. */
interface Cloned {
  t: '~v8';
  b: string;
}

/** Deeper than this, the plain-data check stops and the message is cloned (always correct). */
const MAX_PLAIN_DEPTH = 32;

/**
 * The form to hand to `process.send` for `message`.
 * @throws the DataCloneError of `v8.serialize` when the message holds a function, a symbol...
 */
export function packMessage(message: object): object {
  if (isPlain(message, 0)) return message;
  const cloned: Cloned = { t: '~v8', b: serialize(message).toString('base64') };
  return cloned;
}

/** The message `packMessage` was given. */
export function unpackMessage(received: unknown): unknown {
  if (typeof received === 'object' && received !== null && (received as Cloned).t === '~v8') {
    return deserialize(Buffer.from((received as Cloned).b, 'base64'));
  }
  return received;
}

/**
 * True when JSON carries the value exactly: strings, finite numbers, booleans, null, arrays
 * and plain objects (an undefined property is fine: JSON drops it and reading it gives
 * undefined again; an undefined array item is not: it would come back as null).
 */
function isPlain(value: unknown, depth: number): boolean {
  if (typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (typeof value !== 'object') return false;
  if (value === null) return true;
  if (depth > MAX_PLAIN_DEPTH) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === undefined || !isPlain(item, depth + 1)) return false;
    }
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const item = record[key];
    if (item !== undefined && !isPlain(item, depth + 1)) return false;
  }
  return true;
}
