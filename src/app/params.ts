/**
 * How keyword arguments reach a TypeScript task. Python callers send kwargs
 * (`add.apply_async(kwargs={'x': 1, 'y': 2})`); a TypeScript function has positional
 * parameters only. celeriac maps each kwarg onto the parameter of the same name:
 * the names come from the task's `params` option, or are read from the function's source.
 */
import { ArgumentsError } from '../errors.js';

/** What celeriac knows about a task function's parameters. */
export interface ParamInfo {
  /** Parameter names in order, or null when they cannot be known (destructuring, minified code). */
  names: readonly string[] | null;
  /** How many leading parameters have no default value. */
  required: number;
  /** True when the last parameter is a rest parameter (`...args`). */
  rest: boolean;
}

/** Reads parameter names from a function's source text. `skip` drops leading ones (bound context). */
export function inspectParams(fn: Function, skip = 0): ParamInfo {
  const list = paramListSource(fn.toString());
  if (list === null) return { names: null, required: Math.max(0, fn.length - skip), rest: false };
  const parts = splitTopLevel(list).slice(skip);
  const names: string[] = [];
  let required = 0;
  let seenDefault = false;
  let rest = false;
  let known = true;
  for (const raw of parts) {
    const part = raw.trim();
    if (part === '') continue;
    if (part.startsWith('...')) {
      rest = true;
      const name = identifierAt(part.slice(3));
      if (name === null) known = false;
      else names.push(name);
      continue;
    }
    const name = identifierAt(part);
    if (name === null) {
      known = false;
      names.push('');
    } else names.push(name);
    if (part.includes('=')) seenDefault = true;
    if (!seenDefault) required++;
  }
  return { names: known ? names : null, required, rest };
}

/**
 * Merges kwargs into positional args by parameter name, as Python binds them.
 * Throws ArgumentsError (Python's TypeError wording) for unknown or doubled names.
 */
export function bindKwargs(
  taskName: string,
  args: readonly unknown[],
  kwargs: Record<string, unknown>,
  params: ParamInfo,
): unknown[] {
  const keys = Object.keys(kwargs);
  if (keys.length === 0) return args as unknown[];
  if (params.names === null) {
    throw new ArgumentsError(
      `${taskName}() got keyword arguments ${keys.join(', ')} but its parameter names are unknown`,
      {
        hint: "give the task a 'params' option listing its parameter names, e.g. params: ['x', 'y']",
      },
    );
  }
  const out = [...args];
  const positional = params.rest ? params.names.length - 1 : params.names.length;
  for (const key of keys) {
    const index = params.names.indexOf(key);
    if (index < 0 || index >= positional) {
      throw new ArgumentsError(`${taskName}() got an unexpected keyword argument '${key}'`);
    }
    if (index < args.length) {
      throw new ArgumentsError(`${taskName}() got multiple values for argument '${key}'`);
    }
    while (out.length < index) out.push(undefined);
    out[index] = kwargs[key];
  }
  return out;
}

/** Python-style arity check. */
export function checkArity(taskName: string, args: readonly unknown[], params: ParamInfo): void {
  const total = params.names?.length ?? null;
  if (args.length < params.required) {
    const missing = params.names?.slice(args.length, params.required) ?? [];
    throw new ArgumentsError(
      `${taskName}() missing ${params.required - args.length} required positional argument(s)` +
        (missing.length ? `: ${missing.map((m) => `'${m}'`).join(', ')}` : ''),
    );
  }
  if (!params.rest && total !== null && args.length > total) {
    throw new ArgumentsError(
      `${taskName}() takes ${total} positional argument(s) but ${args.length} were given`,
    );
  }
}

function paramListSource(source: string): string | null {
  const text = stripComments(source).trim();
  // Arrow with a single bare parameter: `x => ...` / `async x => ...`
  const bare = /^(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(text);
  if (bare?.[1] !== undefined) return bare[1];
  const open = text.indexOf('(');
  if (open < 0) return null;
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"' || ch === "'" || ch === '`') {
      i = skipString(text, i);
      continue;
    }
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') {
      depth--;
      if (depth === 0) return text.slice(open + 1, i);
    }
  }
  return null;
}

function splitTopLevel(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const ch = list[i];
    if (ch === '"' || ch === "'" || ch === '`') {
      i = skipString(list, i);
      continue;
    }
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(list.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(list.slice(start));
  return parts;
}

function skipString(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === quote) return i;
  }
  return text.length;
}

function identifierAt(part: string): string | null {
  const match = /^\s*([A-Za-z_$][\w$]*)\s*(?:=|$)/.exec(part);
  return match?.[1] ?? null;
}

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
}
