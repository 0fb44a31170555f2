/**
 * Python-compatible JSON (spec §0.4, §i.2): `pyDumps` writes what Python's `json.dumps`
 * writes, `fastDumps` writes compact JSON with the same value semantics, `jsonLoads` reads
 * NaN/Infinity tokens and big integers.
 */
export { pyDumps, fastDumps, quotePython } from './json-encode.js';
export { jsonLoads } from './json-decode.js';
