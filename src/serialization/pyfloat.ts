/**
 * Numbers written the way Python writes them, for byte-identical JSON and `repr()`.
 *
 * JavaScript has one number type; Python has `int` and `float`. A JS number that is a safe
 * integer is written as a Python int (`5`), any other finite number as a Python float
 * (`5.5`, `1e+16`). The one loss: a Python float with an integral value (`1.0`) arrives in JS
 * as `1` and is written back as `1`.
 */

/**
 * Python's `float.__repr__` (shortest round-trip digits; exponent form when the decimal
 * point position is <= -4 or > 16; `.0` added to integral values).
 * NaN and infinities are returned as `nan`, `inf`, `-inf` (repr spelling).
 */
export function pyFloatRepr(x: number): string {
  if (x !== x) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(x);
  if (abs >= 1e-4 && abs < 1e16) {
    // Fixed notation in both languages, with the same shortest digits.
    const s = String(x);
    return Number.isInteger(x) ? s + '.0' : s;
  }
  // toExponential() without an argument gives the shortest digits that round-trip,
  // the same digits Python's repr uses.
  const exp = x.toExponential();
  const negative = exp.charCodeAt(0) === 45; /* - */
  const body = negative ? exp.slice(1) : exp;
  const ePos = body.indexOf('e');
  const digits = body.slice(0, ePos).replace('.', '');
  const exponent = Number(body.slice(ePos + 1));
  const decpt = exponent + 1;
  let out: string;
  if (decpt <= -4 || decpt > 16) {
    const mantissa = digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits;
    const absExp = Math.abs(exponent);
    out = mantissa + 'e' + (exponent < 0 ? '-' : '+') + (absExp < 10 ? '0' : '') + String(absExp);
  } else if (decpt <= 0) {
    out = '0.' + '0'.repeat(-decpt) + digits;
  } else if (decpt < digits.length) {
    out = digits.slice(0, decpt) + '.' + digits.slice(decpt);
  } else {
    out = digits + '0'.repeat(decpt - digits.length) + '.0';
  }
  return negative ? '-' + out : out;
}

/**
 * A JS number as Python would write it in JSON: safe integers as ints, other finite
 * numbers as floats, and the bare tokens `NaN`, `Infinity`, `-Infinity`.
 */
export function pyJsonNumber(x: number): string {
  if (Number.isSafeInteger(x)) return x === 0 && Object.is(x, -0) ? '-0.0' : String(x);
  if (x !== x) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  return pyFloatRepr(x);
}
