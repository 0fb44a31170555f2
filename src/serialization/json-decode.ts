/**
 * JSON decoding that reads everything Python's `json.dumps` writes (spec §0.4): the bare
 * tokens `NaN`, `Infinity`, `-Infinity`, and integers beyond 2^53 (returned as BigInt).
 *
 * Fast path: the native `JSON.parse`, whose result stands when no number in it is at or beyond
 * 2^53 in magnitude (where an integer may have lost digits) — a walk over the parsed value,
 * cheaper than scanning the text with a regex. Otherwise (such a number, or a syntax error
 * that may be a NaN/Infinity token) a small recursive-descent parser.
 */
import { DecodeError } from '../errors.js';

/**
 * A run of 16+ digits not preceded by a digit or a dot: a possible integer beyond 2^53.
 * Together with the NaN/Infinity check this decides, after JSON.parse failed, whether the
 * slow parser may read the text (else JSON.parse's own error is reported, as it always was).
 */
const LONG_INTEGER = /(?<![\d.])\d{16}/;

function needsSlowParse(s: string): boolean {
  return s.includes('NaN') || s.includes('Infinity') || LONG_INTEGER.test(s);
}

/**
 * True when `v` holds a number of magnitude 2^53 or more (or an infinity): JSON.parse may
 * have rounded an integer the slow parser returns as a BigInt.
 */
function hasUnsafeNumber(root: unknown): boolean {
  // Iterative: JSON.parse accepts nesting deeper than the call stack would allow a recursion.
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'number') {
      if (!(v < 9007199254740992 && v > -9007199254740992)) return true;
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push(v[i]);
    } else if (typeof v === 'object' && v !== null) {
      for (const key in v) stack.push((v as Record<string, unknown>)[key]);
    }
  }
  return false;
}

/**
 * Parses JSON as Python writes it.
 * @throws DecodeError with the position of the first bad character.
 */
export function jsonLoads(text: string | Buffer): unknown {
  const s = typeof text === 'string' ? text : text.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(s);
  } catch (err) {
    if (needsSlowParse(s)) return new Parser(s).parseDocument();
    throw new DecodeError(`invalid JSON: ${(err as Error).message}`, { cause: err });
  }
  return hasUnsafeNumber(value) ? new Parser(s).parseDocument() : value;
}

const MAX_DEPTH = 2000;

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly s: string) {}

  parseDocument(): unknown {
    this.skipWs();
    const v = this.parseValue();
    this.skipWs();
    if (this.pos < this.s.length) this.fail('unexpected data after the JSON value');
    return v;
  }

  private fail(what: string): never {
    const before = this.s.slice(0, this.pos);
    const line = before.split('\n').length;
    const column = this.pos - before.lastIndexOf('\n');
    throw new DecodeError(
      `invalid JSON: ${what} at position ${this.pos} (line ${line} column ${column})`,
    );
  }

  private skipWs(): void {
    const s = this.s;
    let p = this.pos;
    for (;;) {
      const c = s.charCodeAt(p);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  private parseValue(): unknown {
    const c = this.s.charCodeAt(this.pos);
    switch (c) {
      case 0x7b /* { */:
        return this.parseObject();
      case 0x5b /* [ */:
        return this.parseArray();
      case 0x22 /* " */:
        return this.parseString();
      case 0x74 /* t */:
        return this.literal('true', true);
      case 0x66 /* f */:
        return this.literal('false', false);
      case 0x6e /* n */:
        return this.literal('null', null);
      case 0x4e /* N */:
        return this.literal('NaN', NaN);
      case 0x49 /* I */:
        return this.literal('Infinity', Infinity);
      default:
        if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) return this.parseNumber();
        if (Number.isNaN(c)) this.fail('unexpected end of input');
        return this.fail(`unexpected character ${JSON.stringify(this.s[this.pos])}`);
    }
  }

  private literal<T>(word: string, value: T): T {
    if (!this.s.startsWith(word, this.pos))
      this.fail(`unexpected character ${JSON.stringify(this.s[this.pos])}`);
    this.pos += word.length;
    return value;
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
  }

  private parseArray(): unknown[] {
    this.enter();
    this.pos++;
    const out: unknown[] = [];
    this.skipWs();
    if (this.s.charCodeAt(this.pos) === 0x5d /* ] */) {
      this.pos++;
      this.depth--;
      return out;
    }
    for (;;) {
      this.skipWs();
      out.push(this.parseValue());
      this.skipWs();
      const c = this.s.charCodeAt(this.pos++);
      if (c === 0x2c /* , */) continue;
      if (c === 0x5d /* ] */) break;
      this.pos--;
      this.fail("expected ',' or ']'");
    }
    this.depth--;
    return out;
  }

  private parseObject(): Record<string, unknown> {
    this.enter();
    this.pos++;
    const out: Record<string, unknown> = {};
    this.skipWs();
    if (this.s.charCodeAt(this.pos) === 0x7d /* } */) {
      this.pos++;
      this.depth--;
      return out;
    }
    for (;;) {
      this.skipWs();
      if (this.s.charCodeAt(this.pos) !== 0x22) this.fail('expected a string key');
      const key = this.parseString();
      this.skipWs();
      if (this.s.charCodeAt(this.pos) !== 0x3a /* : */) this.fail("expected ':'");
      this.pos++;
      this.skipWs();
      const value = this.parseValue();
      if (key === '__proto__') {
        // Like JSON.parse: an own property, never the prototype.
        Object.defineProperty(out, key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else {
        out[key] = value;
      }
      this.skipWs();
      const c = this.s.charCodeAt(this.pos++);
      if (c === 0x2c) continue;
      if (c === 0x7d) break;
      this.pos--;
      this.fail("expected ',' or '}'");
    }
    this.depth--;
    return out;
  }

  private parseString(): string {
    const s = this.s;
    const start = ++this.pos;
    // Fast scan: no escapes.
    let p = start;
    for (;;) {
      const c = s.charCodeAt(p);
      if (c === 0x22) {
        this.pos = p + 1;
        return s.slice(start, p);
      }
      if (c === 0x5c || c < 0x20 || Number.isNaN(c)) break;
      p++;
    }
    let out = s.slice(start, p);
    for (;;) {
      const c = s.charCodeAt(p);
      if (Number.isNaN(c)) {
        this.pos = p;
        this.fail('unterminated string');
      }
      if (c === 0x22) break;
      if (c < 0x20) {
        this.pos = p;
        this.fail('control character in string');
      }
      if (c !== 0x5c) {
        out += s[p];
        p++;
        continue;
      }
      const e = s.charCodeAt(p + 1);
      p += 2;
      switch (e) {
        case 0x22:
          out += '"';
          break;
        case 0x5c:
          out += '\\';
          break;
        case 0x2f:
          out += '/';
          break;
        case 0x62:
          out += '\b';
          break;
        case 0x66:
          out += '\f';
          break;
        case 0x6e:
          out += '\n';
          break;
        case 0x72:
          out += '\r';
          break;
        case 0x74:
          out += '\t';
          break;
        case 0x75: {
          const hex = s.slice(p, p + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.pos = p;
            this.fail('bad \\u escape');
          }
          out += String.fromCharCode(parseInt(hex, 16));
          p += 4;
          break;
        }
        default:
          this.pos = p - 1;
          this.fail('bad escape');
      }
    }
    this.pos = p + 1;
    return out;
  }

  private parseNumber(): number | bigint {
    const s = this.s;
    const start = this.pos;
    let p = start;
    if (s.charCodeAt(p) === 0x2d) {
      p++;
      if (s.startsWith('Infinity', p)) {
        this.pos = p + 8;
        return -Infinity;
      }
    }
    const intStart = p;
    while (isDigit(s.charCodeAt(p))) p++;
    if (p === intStart) {
      this.pos = p;
      this.fail('expected a digit');
    }
    if (s.charCodeAt(intStart) === 0x30 && p - intStart > 1) {
      this.pos = intStart;
      this.fail('leading zero in number');
    }
    let integral = true;
    if (s.charCodeAt(p) === 0x2e /* . */) {
      integral = false;
      p++;
      const fracStart = p;
      while (isDigit(s.charCodeAt(p))) p++;
      if (p === fracStart) {
        this.pos = p;
        this.fail('expected a digit after the decimal point');
      }
    }
    const e = s.charCodeAt(p);
    if (e === 0x65 || e === 0x45) {
      integral = false;
      p++;
      const sign = s.charCodeAt(p);
      if (sign === 0x2b || sign === 0x2d) p++;
      const expStart = p;
      while (isDigit(s.charCodeAt(p))) p++;
      if (p === expStart) {
        this.pos = p;
        this.fail('expected a digit in the exponent');
      }
    }
    this.pos = p;
    const text = s.slice(start, p);
    const n = Number(text);
    if (integral && p - intStart > 15 && !Number.isSafeInteger(n)) return BigInt(text);
    return n;
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
