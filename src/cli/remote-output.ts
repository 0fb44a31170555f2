/**
 * What `celeriac inspect`, `control` and `status` share: the app they talk through (with or
 * without -A), and replies printed as `celery inspect` prints them:
 *
 *   ->  celery@host: OK
 *           pong
 *
 *   1 node online.
 */
import { pc } from './colors.js';
import { Celery } from '../app/celery.js';
import { pyRepr } from '../protocol/repr.js';
import { pyDumps } from '../serialization/json.js';
import { appFromOptions, type GlobalOptions } from './context.js';
import { CliExit } from './output.js';

/** Celery's EX_UNAVAILABLE: no node replied. */
export const EX_UNAVAILABLE = 69;

/**
 * The app for remote control: the -A app when given, else a bare app on the broker of -b /
 * CELERY_BROKER_URL (remote control needs no task code, and lets celeriac steer Python workers).
 */
export async function clientApp(options: GlobalOptions): Promise<Celery> {
  if (options.app) return appFromOptions(options);
  const app = new Celery('celeriac');
  app.overrideUrls({ broker: options.broker, backend: options.resultBackend });
  app.validate();
  return app;
}

/** `-d a,b` → ['a', 'b'] (Celery's COMMA_SEPARATED_LIST); undefined when not given. */
export function destinationList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return list.length > 0 ? list : undefined;
}

/** Parses -t/--timeout. */
export function timeoutSeconds(value: string | undefined): number {
  if (value === undefined) return 1;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0)
    throw new CliExit(`-t/--timeout must be a number of seconds, not '${value}'`, 2);
  return n;
}

/** Python's `text.indent(t, n)`: every line prefixed with n spaces. */
export function indent(text: string, n: number): string {
  const pad = ' '.repeat(n);
  return text
    .split('\n')
    .map((line) => pad + line)
    .join('\n');
}

/** Python's `str()` of a decoded JSON value. */
function pyStr(v: unknown): string {
  return typeof v === 'string' ? v : pyRepr(v);
}

/** Python's `json.dumps(value, sort_keys=True, indent=4)`. */
export function pyJsonIndent(value: unknown, width = 4, level = 0): string {
  const pad = ' '.repeat(width * (level + 1));
  const end = ' '.repeat(width * level);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => pad + pyJsonIndent(v, width, level + 1)).join(',\n')}\n${end}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).sort();
    if (keys.length === 0) return '{}';
    const obj = value as Record<string, unknown>;
    const items = keys.map((k) => `${pad}${pyDumps(k)}: ${pyJsonIndent(obj[k], width, level + 1)}`);
    return `{\n${items.join(',\n')}\n${end}}`;
  }
  return pyDumps(value);
}

/** Celery's `pretty()`: the status word and the text of a reply. */
export function prettyReply(reply: unknown): { ok: boolean; text: string } {
  if (Array.isArray(reply)) {
    const text =
      reply.length === 0
        ? '- empty -'
        : reply.map((item) => `${pc.white('*')} ${pyStr(item)}`).join('\n');
    return { ok: true, text };
  }
  if (typeof reply === 'object' && reply !== null) {
    const r = reply as Record<string, unknown>;
    if ('ok' in r) return { ok: true, text: indent(prettyReply(r['ok']).text, 4) };
    if ('error' in r) return { ok: false, text: indent(prettyReply(r['error']).text, 4) };
    return { ok: true, text: pyJsonIndent(reply) };
  }
  if (typeof reply === 'string') return { ok: true, text: reply };
  return { ok: true, text: pyRepr(reply) };
}

/** Prints one `{node: reply}` as Celery's `_say_remote_command_reply`. */
export function sayReply(
  write: (text: string) => void,
  reply: Record<string, unknown>,
  showBody: boolean,
): void {
  const node = Object.keys(reply)[0];
  if (node === undefined) return;
  const { ok, text } = prettyReply(reply[node]);
  const status = ok ? pc.bold(pc.green('OK')) : pc.bold(pc.red('ERROR'));
  write(`${pc.bold(pc.white('->'))}  ${pc.bold(pc.cyan(`${node}: `))}${status}\n`);
  if (showBody && text) write(`${indent(text, 4)}\n`);
}

/** `\n1 node online.` / `\n2 nodes online.` */
export function nodesOnline(count: number): string {
  return `\n${count} ${count === 1 ? 'node' : 'nodes'} online.\n`;
}

/** The error when no node answered (exit code 69, as Celery). */
export function noReplies(): CliExit {
  return new CliExit('No nodes replied within time constraint', EX_UNAVAILABLE);
}
