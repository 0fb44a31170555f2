/** How CLI commands print values and fail. */
import { CeleriacError } from '../errors.js';

/** An error that ends the command with a one-line reason and an exit code. */
export class CliExit extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Prints a value as `celery result` does: strings raw, everything else as JSON. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return 'None';
  return (
    JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'None'
  );
}

/** The one-line reason for an error. */
export function reasonOf(error: unknown): string {
  if (error instanceof CeleriacError) return `${error.message}`;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Parses a JSON option (--args, --kwargs) with an error that names the flag. */
export function parseJsonOption<T>(
  flag: string,
  text: string | undefined,
  fallback: T,
  check: (v: unknown) => boolean,
): T {
  if (text === undefined) return fallback;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliExit(`${flag} is not valid JSON (${(error as Error).message}): ${text}`, 2);
  }
  if (!check(value)) throw new CliExit(`${flag} has the wrong shape: ${text}`, 2);
  return value as T;
}
