/**
 * A small logger that prints Celery's format:
 * `[2026-11-25 06:00:00,123: INFO/MainProcess] Task tasks.add[...] succeeded in 0.001s: 8`.
 */

export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';

const ORDER: Record<LogLevel, number> = {
  DEBUG: 10,
  INFO: 20,
  WARNING: 30,
  ERROR: 40,
  CRITICAL: 50,
};

/** Parses `-l` values as Celery does (case-insensitive names, `warn` and `fatal` aliases). */
export function parseLogLevel(value: string): LogLevel {
  const upper = value.toUpperCase();
  if (upper === 'WARN') return 'WARNING';
  if (upper === 'FATAL') return 'CRITICAL';
  if (upper in ORDER) return upper as LogLevel;
  throw new RangeError(`invalid log level '${value}': use DEBUG, INFO, WARNING, ERROR or CRITICAL`);
}

/** Where log lines go. */
export interface LogSink {
  write(line: string): void;
}

/** A Celery-format logger. */
export class Logger {
  readonly level: LogLevel;
  readonly #sink: LogSink;
  readonly #process: string;

  constructor(options: { level?: LogLevel; sink?: LogSink; processName?: string } = {}) {
    this.level = options.level ?? 'WARNING';
    this.#sink = options.sink ?? process.stderr;
    this.#process = options.processName ?? 'MainProcess';
  }

  isEnabled(level: LogLevel): boolean {
    return ORDER[level] >= ORDER[this.level];
  }

  log(level: LogLevel, message: string, error?: unknown): void {
    if (!this.isEnabled(level)) return;
    let text = `[${timestamp(new Date())}: ${level}/${this.#process}] ${message}\n`;
    if (error instanceof Error && error.stack) text += `${error.stack}\n`;
    this.#sink.write(text);
  }

  debug(message: string): void {
    this.log('DEBUG', message);
  }
  info(message: string): void {
    this.log('INFO', message);
  }
  warning(message: string, error?: unknown): void {
    this.log('WARNING', message, error);
  }
  error(message: string, error?: unknown): void {
    this.log('ERROR', message, error);
  }
  critical(message: string, error?: unknown): void {
    this.log('CRITICAL', message, error);
  }
}

function timestamp(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
}
