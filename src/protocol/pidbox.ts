/**
 * Remote control messages (kombu's pidbox, spec §h): requests broadcast on the fanout
 * exchange `celery.pidbox`, replies published to the direct exchange `reply.celery.pidbox`
 * with the requester's routing key, body `{<nodename>: <reply>}`. Pure: no I/O, no clocks.
 */
import { MessageMalformedError } from '../errors.js';

/** Where a reply goes: the requester's reply exchange and routing key (its oid). */
export interface ReplyTo {
  exchange: string;
  routingKey: string;
}

/** A remote control request (spec §h.2). */
export interface ControlRequest {
  /** Command name: `ping`, `revoke`, ... */
  method: string;
  /** Keyword arguments of the command. */
  arguments: Record<string, unknown>;
  /** Node names that should handle it; null = every node. */
  destination: string[] | null;
  /** Alternative selection when destination is null: a glob or a regex (`matcher`). */
  pattern: string | null;
  /** `glob` (Celery's default) or `pcre`. */
  matcher: string | null;
  /** Present only when a reply is wanted. */
  ticket?: string | undefined;
  replyTo?: ReplyTo | undefined;
}

/** `{"ok": value}` (Celery's `ok()`). */
export type OkReply<T = unknown> = { ok: T };
/** `{"error": value}` (Celery's `nok()`). */
export type ErrorReply = { error: string };

/** Names of the exchanges and queues for a control namespace (default `celery`, spec §h.1). */
export function pidboxNames(namespace = 'celery'): {
  exchange: string;
  replyExchange: string;
  nodeQueue(hostname: string): string;
  replyQueue(oid: string): string;
} {
  return {
    exchange: `${namespace}.pidbox`,
    replyExchange: `reply.${namespace}.pidbox`,
    nodeQueue: (hostname) => `${hostname}.${namespace}.pidbox`,
    replyQueue: (oid) => `${oid}.reply.${namespace}.pidbox`,
  };
}

/** The request body, keys in kombu's order; `ticket`/`reply_to` only when a reply is wanted. */
export function encodeControlRequest(request: ControlRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {
    method: request.method,
    arguments: request.arguments,
    destination: request.destination,
    pattern: request.pattern,
    matcher: request.matcher,
  };
  if (request.ticket !== undefined && request.replyTo !== undefined) {
    body['ticket'] = request.ticket;
    body['reply_to'] = {
      exchange: request.replyTo.exchange,
      routing_key: request.replyTo.routingKey,
    };
  }
  return body;
}

/**
 * Reads a request body as kombu sends it.
 * @throws MessageMalformedError when there is no string `method`.
 */
export function decodeControlRequest(body: unknown): ControlRequest {
  if (!isRecord(body) || typeof body['method'] !== 'string') {
    throw new MessageMalformedError('A remote control request has no "method"', {
      hint: 'pidbox requests are objects {"method", "arguments", "destination", ...}',
    });
  }
  const args = body['arguments'];
  const destination = body['destination'];
  const request: ControlRequest = {
    method: body['method'],
    arguments: isRecord(args) ? args : {},
    destination: Array.isArray(destination)
      ? destination.filter((d): d is string => typeof d === 'string')
      : typeof destination === 'string'
        ? [destination]
        : null,
    pattern: typeof body['pattern'] === 'string' ? body['pattern'] : null,
    matcher: typeof body['matcher'] === 'string' ? body['matcher'] : null,
  };
  const replyTo = body['reply_to'];
  if (isRecord(replyTo) && typeof replyTo['routing_key'] === 'string') {
    request.replyTo = {
      exchange: typeof replyTo['exchange'] === 'string' ? replyTo['exchange'] : '',
      routingKey: replyTo['routing_key'],
    };
    if (typeof body['ticket'] === 'string') request.ticket = body['ticket'];
  }
  return request;
}

/** Request headers: the sender's clock and when the requester stops listening (epoch seconds). */
export function requestHeaders(clock: number, expires: number): Record<string, unknown> {
  return { clock, expires };
}

/** Reply headers: the request's ticket and the replier's clock. */
export function replyHeaders(ticket: string | undefined, clock: number): Record<string, unknown> {
  return { ticket: ticket ?? null, clock };
}

/** The `clock` header as a number (0 when missing or not a number). */
export function clockHeader(headers: Record<string, unknown>): number {
  const c = headers['clock'];
  return typeof c === 'number' ? c : typeof c === 'bigint' ? Number(c) : 0;
}

/** The `ticket` header, if any. */
export function ticketHeader(headers: Record<string, unknown>): string | undefined {
  const t = headers['ticket'];
  return typeof t === 'string' ? t : undefined;
}

/** The `expires` header (epoch seconds), if any and non-zero. */
export function expiresHeader(headers: Record<string, unknown>): number | undefined {
  const e = headers['expires'];
  return typeof e === 'number' && e > 0 ? e : undefined;
}

/** A reply body: `{<nodename>: <reply>}`. */
export function encodeReply(hostname: string, reply: unknown): Record<string, unknown> {
  return { [hostname]: reply === undefined ? null : reply };
}

/** The (node, reply) pairs of a reply body; empty when it is not an object. */
export function decodeReply(body: unknown): Array<{ node: string; reply: unknown }> {
  if (!isRecord(body)) return [];
  return Object.entries(body).map(([node, reply]) => ({ node, reply }));
}

/**
 * True when a node should handle the request (kombu's Node.handle_message): in `destination`
 * when one is given, else matching `pattern` with `matcher` (glob: fnmatch, whole name; pcre:
 * Python's re.match, anchored at the start), else always. An unknown matcher or a bad pattern
 * matches nothing (a Python node raises and does not answer).
 */
export function requestIsFor(request: ControlRequest, hostname: string): boolean {
  if (request.destination && request.destination.length > 0) {
    return request.destination.includes(hostname);
  }
  if (request.pattern && request.matcher)
    return matchNode(hostname, request.pattern, request.matcher);
  return true;
}

/** kombu's `match(data, pattern, matcher)` for `glob` and `pcre`. */
export function matchNode(hostname: string, pattern: string, matcher: string): boolean {
  try {
    if (matcher === 'glob') return globToRegExp(pattern).test(hostname);
    if (matcher === 'pcre') return new RegExp(pattern, 'y').test(hostname);
  } catch {
    return false;
  }
  return false;
}

/** Python's fnmatch.translate: `*`, `?`, `[seq]`, `[!seq]`, whole-string match. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) re += '\\[';
      else {
        let set = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (set.startsWith('!')) set = '^' + set.slice(1);
        else if (set.startsWith('^')) set = '\\' + set;
        re += `[${set}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^(?:${re})$`, 's');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
