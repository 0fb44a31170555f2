/**
 * A port of Celery 5.2's `celery.utils.saferepr.saferepr`, which writes the `argsrepr` /
 * `kwargsrepr` headers (maxlen 1024) and the return value in worker logs.
 *
 * It differs from `repr()`: strings are always single-quoted with only `'` escaped, numbers
 * print with `str()`, nesting deeper than 3 levels prints as `[...]`, and once the output
 * passes `maxlen` it ends with `, ...` plus the closing brackets still pending. The port keeps
 * Celery's token stream so truncated output matches byte for byte (including its quirk of
 * dropping the closer that was next in line when the budget ran out).
 */
import { pyNumberRepr, pyRepr } from './py-repr.js';

/** Celery's `argsrepr_maxsize` / `kwargsrepr_maxsize`. */
export const REPR_MAXLEN = 1024;

/** `saferepr(tuple(args), 1024)`: `(1, 'two')`, `(1,)`, `()`. */
export function argsRepr(args: readonly unknown[], maxlen: number = REPR_MAXLEN): string {
  return run(new Tuple(args), maxlen, 3);
}

/** `saferepr(kwargs, 1024)`: `{'five': 5.5, 'six': None}`. */
export function kwargsRepr(
  kwargs: Readonly<Record<string, unknown>>,
  maxlen: number = REPR_MAXLEN,
): string {
  return run(kwargs, maxlen, 3);
}

/** Celery's `saferepr(value, maxlen)` of any value (`maxlen` null: no limit). */
export function safeRepr(
  value: unknown,
  maxlen: number | null = REPR_MAXLEN,
  maxlevels = 3,
): string {
  return run(value, maxlen, maxlevels);
}

/** Marks the top-level args, which Celery reprs as a tuple. */
class Tuple {
  constructor(readonly items: readonly unknown[]) {}
}

class Literal {
  constructor(
    readonly value: string,
    /** False for brackets: they are still written after truncation. */
    readonly truncatable: boolean,
    readonly direction: number,
  ) {}
}

class Key {
  constructor(readonly value: unknown) {}
}

class Quoted {
  constructor(readonly value: string | Uint8Array) {}
}

class Dirty {
  constructor(readonly obj: object) {}
}

const DICT_START = new Literal('{', false, +1);
const DICT_KVSEP = new Literal(': ', true, 0);
const DICT_END = new Literal('}', false, -1);
const LIST_START = new Literal('[', false, +1);
const LIST_END = new Literal(']', false, -1);
const LIST_SEP = new Literal(', ', true, 0);
const SET_START = new Literal('{', false, +1);
const SET_END = new Literal('}', false, -1);
const TUPLE_START = new Literal('(', false, +1);
const TUPLE_END = new Literal(')', false, -1);
const TUPLE_END_SV = new Literal(',)', false, -1);

type Token = Literal | Key | Quoted | string;

/** Python's itertools.chain over iterators that may already be partly consumed. */
class Chain implements Iterator<unknown> {
  constructor(private readonly parts: Iterator<unknown>[]) {}
  next(): IteratorResult<unknown> {
    while (this.parts.length > 0) {
      const r = this.parts[0]!.next();
      if (!r.done) return r;
      this.parts.shift();
    }
    return { done: true, value: undefined };
  }
}

function* chainList(items: Iterable<unknown>, size: number): Generator<unknown> {
  let i = 0;
  for (const v of items) {
    yield v;
    if (i++ < size - 1) yield LIST_SEP;
  }
}

function* chainDict(entries: [unknown, unknown][]): Generator<unknown> {
  for (let i = 0; i < entries.length; i++) {
    const [k, v] = entries[i]!;
    yield new Key(k);
    yield DICT_KVSEP;
    yield v;
    if (i < entries.length - 1) yield LIST_SEP;
  }
}

/** `reprstream`: yields tokens and the iterator they came from. */
class ReprStream {
  private current: Iterator<unknown> | undefined;
  private level = 0;
  private readonly seen = new Set<object>();

  constructor(
    private readonly stack: Iterator<unknown>[],
    private readonly maxlevels: number,
  ) {}

  next(): { token: Token; it: Iterator<unknown> } | undefined {
    for (;;) {
      if (this.current === undefined) {
        this.current = this.stack.shift();
        if (this.current === undefined) return undefined;
      }
      const it = this.current;
      const r = it.next();
      if (r.done) {
        this.current = undefined;
        continue;
      }
      const val: unknown = r.value;
      if (val instanceof Dirty) {
        this.seen.delete(val.obj);
        continue;
      }
      if (val instanceof Literal) {
        this.level += val.direction;
        return { token: val, it };
      }
      if (val instanceof Key) return { token: val, it };
      if (typeof val === 'number') return { token: pyNumberRepr(val), it };
      if (typeof val === 'boolean') return { token: val ? 'True' : 'False', it };
      if (typeof val === 'bigint') return { token: val.toString(), it };
      if (typeof val === 'string' || val instanceof Uint8Array)
        return { token: new Quoted(val), it };
      const container = describeContainer(val);
      if (container === undefined) return { token: pyRepr(val), it };
      const [start, end, items, typeName] = container;
      if (this.maxlevels && this.level >= this.maxlevels) {
        return { token: `${start.value}...${end.value}`, it };
      }
      const obj = val as object;
      if (this.seen.has(obj)) return { token: `<Recursion on ${typeName} with id=0>`, it };
      this.seen.add(obj);
      this.stack.push(new Chain([[start].values(), items, [new Dirty(obj), end].values(), it]));
      this.current = undefined;
    }
  }
}

type Container = [Literal, Literal, Iterator<unknown>, string];

function describeContainer(val: unknown): Container | undefined {
  if (typeof val !== 'object' || val === null) return undefined;
  if (val instanceof Tuple) {
    const n = val.items.length;
    return [TUPLE_START, n === 1 ? TUPLE_END_SV : TUPLE_END, chainList(val.items, n), 'tuple'];
  }
  if (Array.isArray(val)) return [LIST_START, LIST_END, chainList(val, val.length), 'list'];
  if (val instanceof Set) {
    if (val.size === 0) return undefined; // pyRepr gives 'set()'
    return [SET_START, SET_END, chainList(val, val.size), 'set'];
  }
  if (val instanceof Map) return [DICT_START, DICT_END, chainDict([...val.entries()]), 'dict'];
  if (
    val instanceof Date ||
    val instanceof Error ||
    typeof (val as { then?: unknown }).then === 'function'
  ) {
    return undefined;
  }
  return [DICT_START, DICT_END, chainDict(Object.entries(val)), 'dict'];
}

function run(value: unknown, maxlen: number | null, maxlevels: number): string {
  // When the whole output fits, no token is ever truncated and the token stream gives
  // exactly the plain recursive result, which is several times faster to build.
  const simple = simpleRepr(value, 0, maxlevels, []);
  if (simple !== undefined && (maxlen === null || simple.length < maxlen)) return simple;
  return streamRepr(value, maxlen, maxlevels);
}

/**
 * saferepr without a length limit, or undefined when the value holds bytes that are not
 * ASCII (their truncation counts bytes, not characters, so only the stream gets it right).
 */
function simpleRepr(
  v: unknown,
  depth: number,
  maxlevels: number,
  ancestors: object[],
): string | undefined {
  switch (typeof v) {
    case 'number':
      return pyNumberRepr(v);
    case 'boolean':
      return v ? 'True' : 'False';
    case 'bigint':
      return v.toString();
    case 'string':
      return "'" + escapeQuotes(v) + "'";
    case 'undefined':
    case 'function':
    case 'symbol':
      return pyRepr(v);
    case 'object':
      break;
  }
  if (v instanceof Uint8Array) {
    for (const b of v) if (b > 0x7f) return undefined;
    return formatChars(v, null);
  }
  if (typeof v !== 'object' || v === null || v instanceof Date || v instanceof Error)
    return pyRepr(v);
  if (v instanceof Set && v.size === 0) return pyRepr(v);
  if (typeof (v as { then?: unknown }).then === 'function') return pyRepr(v);
  const [start, end, typeName] = brackets(v);
  if (maxlevels && depth >= maxlevels) return `${start}...${end}`;
  if (ancestors.includes(v)) return `<Recursion on ${typeName} with id=0>`;
  ancestors.push(v);
  const parts: string[] = [];
  const add = (text: string | undefined): boolean => {
    if (text === undefined) return false;
    parts.push(text);
    return true;
  };
  if (v instanceof Tuple || Array.isArray(v) || v instanceof Set) {
    const items: Iterable<unknown> = v instanceof Tuple ? v.items : (v as Iterable<unknown>);
    for (const item of items)
      if (!add(simpleRepr(item, depth + 1, maxlevels, ancestors))) return undefined;
  } else {
    const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
    for (const [k, item] of entries) {
      const key = simpleRepr(k, 0, maxlevels, []);
      const value = simpleRepr(item, depth + 1, maxlevels, ancestors);
      if (key === undefined || value === undefined) return undefined;
      parts.push(key + ': ' + value);
    }
  }
  ancestors.pop();
  return start + parts.join(', ') + end;
}

/** Opening and closing text of a container, and its Python type name. */
function brackets(v: object): [string, string, string] {
  if (v instanceof Tuple) return ['(', v.items.length === 1 ? ',)' : ')', 'tuple'];
  if (Array.isArray(v)) return ['[', ']', 'list'];
  if (v instanceof Set) return ['{', '}', 'set'];
  return ['{', '}', 'dict'];
}

function streamRepr(value: unknown, maxlen: number | null, maxlevels: number): string {
  const stream = new ReprStream([[value].values()], maxlevels);
  let budget = maxlen;
  let out = '';
  for (;;) {
    const next = stream.next();
    if (next === undefined) return out;
    const { token, it } = next;
    if (budget !== null && budget <= 0) {
      out += ', ...';
      // Write the closers still pending on this level and the levels around it.
      for (let r = it.next(); !r.done; r = it.next()) {
        if (r.value instanceof Literal && !r.value.truncatable) out += r.value.value;
      }
      return out;
    }
    let val: string;
    if (token instanceof Literal) val = token.value;
    else if (token instanceof Key) val = streamRepr(token.value, budget, maxlevels);
    else if (token instanceof Quoted) val = formatChars(token.value, budget);
    else val = truncate(token, budget);
    out += val;
    if (budget !== null) budget -= pyLen(val);
  }
}

function formatChars(v: string | Uint8Array, maxlen: number | null): string {
  if (typeof v === 'string') return "'" + escapeQuotes(truncate(v, maxlen)) + "'";
  const bytes = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (maxlen && bytes.length > maxlen) return `b'${binaryText(bytes.subarray(0, maxlen))}...'`;
  return `b'${binaryText(bytes)}'`;
}

/** saferepr escapes only single quotes (replaceAll is slow, so check first). */
function escapeQuotes(s: string): string {
  return s.includes("'") ? s.replaceAll("'", "\\'") : s;
}

/** Celery shows bytes as their UTF-8 text, or as hex when they are not UTF-8. */
function binaryText(b: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return b.toString('hex');
  }
}

/** `celery.utils.text.truncate`: cut at maxlen, back to the last space, add `...`. */
function truncate(s: string, maxlen: number | null): string {
  if (!maxlen || s.length < maxlen || pyLen(s) < maxlen) return s;
  const head = Array.from(s).slice(0, maxlen).join('');
  const space = head.lastIndexOf(' ');
  return (space === -1 ? head : head.slice(0, space)) + '...';
}

/** Python's len(): code points, not UTF-16 units. */
function pyLen(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}
