/**
 * Python-style text for JS values: `pyRepr` is Python's `repr()`; `argsRepr` / `kwargsRepr`
 * / `safeRepr` are Celery's `saferepr` (the `argsrepr`/`kwargsrepr` headers, truncated at
 * 1024 characters with `...` as Celery does).
 */
export { pyRepr, pyStrRepr, pyBytesRepr, pyNumberRepr } from './py-repr.js';
export { argsRepr, kwargsRepr, safeRepr, REPR_MAXLEN } from './saferepr.js';
