/**
 * kombu's Redis envelope (spec §b.1): the JSON object kombu 5.2.4 LPUSHes into a queue list,
 * PUBLISHes on a fanout channel, and keeps (as `[envelope, exchange, routing_key]`) in the
 * `unacked` hash. Pure: no I/O, no clocks.
 *
 * Field names and order are exactly kombu's (task_plain's `raw`):
 * `body` (base64), `content-encoding`, `content-type`, `headers`, `properties` with
 * `correlation_id`, `reply_to`, unknown properties, `delivery_mode`, `expiration`,
 * `delivery_info` {`exchange`, `routing_key`}, `priority`, `body_encoding`, `delivery_tag`.
 * Encoding uses Python's JSON spelling (`", "`, `": "`, `\uXXXX` escapes) so that what we
 * write is byte-identical to what a Python producer writes for the same message.
 */
import { MessageMalformedError } from '../errors.js';
import { jsonLoads, pyDumps, quotePython } from '../serialization/json.js';
import type { MessageProperties, WireMessage } from './types.js';

/** Where an envelope was published, and under which tag (kombu's `delivery_info` + `delivery_tag`). */
export interface EnvelopeDelivery {
  exchange: string;
  routingKey: string;
  /** kombu's `properties.delivery_tag`: a new UUID per publish. */
  deliveryTag: string;
  /** Written as `properties.priority`; defaults to the message's priority, then 0. */
  priority?: number | undefined;
}

/** An envelope read back from Redis. */
export interface DecodedEnvelope {
  message: WireMessage;
  exchange: string;
  routingKey: string;
  /** Undefined when the envelope has none (Python producers always set it). */
  deliveryTag: string | undefined;
  /** `properties.delivery_info.redelivered` (set by kombu's restore). */
  redelivered: boolean;
  /** `properties.priority`, when it is a number. */
  priority: number | undefined;
  /**
   * The first field a kombu consumer requires that the envelope lacks: `properties` (then it
   * is some other JSON object, not an envelope), or `properties.delivery_info` with string
   * `exchange` and `routing_key` (a Python worker crashes on such a message, spec §12 trap 3);
   * undefined when neither is missing.
   */
  missing: 'properties' | 'properties.delivery_info' | undefined;
}

/** Properties the envelope writes itself, never taken from `MessageProperties.extra`. */
const RESERVED_PROPERTIES = new Set([
  'correlation_id',
  'reply_to',
  'delivery_mode',
  'expiration',
  'delivery_info',
  'priority',
  'body_encoding',
  'delivery_tag',
]);

/** The envelope object of `message` published with `delivery` (field order as kombu's). */
export function envelopeObject(
  message: WireMessage,
  delivery: EnvelopeDelivery,
): Record<string, unknown> {
  const p = message.properties;
  const properties: Record<string, unknown> = {};
  if (p.correlationId !== undefined) properties['correlation_id'] = p.correlationId;
  if (p.replyTo !== undefined) properties['reply_to'] = p.replyTo;
  if (p.extra) {
    for (const [key, value] of Object.entries(p.extra)) {
      if (!RESERVED_PROPERTIES.has(key)) properties[key] = value;
    }
  }
  if (p.deliveryMode !== undefined) properties['delivery_mode'] = p.deliveryMode;
  if (p.expiration !== undefined) properties['expiration'] = p.expiration;
  properties['delivery_info'] = { exchange: delivery.exchange, routing_key: delivery.routingKey };
  properties['priority'] = delivery.priority ?? p.priority ?? 0;
  properties['body_encoding'] = 'base64';
  properties['delivery_tag'] = delivery.deliveryTag;
  return {
    body: message.body.toString('base64'),
    'content-encoding': message.contentEncoding,
    'content-type': message.contentType,
    headers: message.headers,
    properties,
  };
}

/**
 * The envelope string kombu would LPUSH/PUBLISH for `message`.
 * @throws EncodeError when a header or property value cannot be written as JSON.
 */
export function encodeEnvelope(message: WireMessage, delivery: EnvelopeDelivery): string {
  return pyDumps(envelopeObject(message, delivery));
}

/**
 * Reads an envelope string (from a list, a PUBLISH, or the first element of an `unacked`
 * value). The body is base64-decoded when `body_encoding` says so (always, from kombu).
 * @throws MessageMalformedError when it is not a kombu envelope.
 */
export function decodeEnvelope(raw: string | Buffer): DecodedEnvelope {
  let parsed: unknown;
  try {
    parsed = jsonLoads(raw);
  } catch (cause) {
    throw new MessageMalformedError('A Redis message is not valid JSON', {
      cause,
      hint: 'only kombu envelopes (JSON objects with body, headers and properties) belong in Celery queues',
    });
  }
  return envelopeFromObject(parsed);
}

/** Like {@link decodeEnvelope}, from an already parsed object. */
export function envelopeFromObject(parsed: unknown): DecodedEnvelope {
  if (!isRecord(parsed)) {
    throw new MessageMalformedError('A Redis message is not a JSON object', {
      hint: 'only kombu envelopes (JSON objects with body, headers and properties) belong in Celery queues',
    });
  }
  const props = isRecord(parsed['properties']) ? parsed['properties'] : {};
  const info = isRecord(props['delivery_info']) ? props['delivery_info'] : {};
  const routed = typeof info['exchange'] === 'string' && typeof info['routing_key'] === 'string';
  const headers = isRecord(parsed['headers']) ? parsed['headers'] : {};
  const message: WireMessage = {
    body: decodeBody(parsed['body'], props['body_encoding']),
    contentType:
      typeof parsed['content-type'] === 'string' ? parsed['content-type'] : 'application/json',
    contentEncoding:
      typeof parsed['content-encoding'] === 'string' ? parsed['content-encoding'] : 'utf-8',
    headers,
    properties: propertiesFromWire(props),
  };
  const tag = props['delivery_tag'];
  const priority = props['priority'];
  return {
    message,
    exchange: typeof info['exchange'] === 'string' ? info['exchange'] : '',
    routingKey: typeof info['routing_key'] === 'string' ? info['routing_key'] : '',
    deliveryTag: typeof tag === 'string' ? tag : undefined,
    redelivered: info['redelivered'] === true,
    priority: typeof priority === 'number' ? priority : undefined,
    missing: !isRecord(parsed['properties'])
      ? 'properties'
      : routed
        ? undefined
        : 'properties.delivery_info',
  };
}

/**
 * What kombu's restore writes back to a queue: the envelope with `headers.redelivered` and
 * `properties.delivery_info.redelivered` set to true (spec §b.5), in Python's JSON spelling.
 * Like kombu, a missing `headers` leaves both flags unset.
 */
export function markRedelivered(envelope: Record<string, unknown>): string {
  const headers = envelope['headers'];
  if (isRecord(headers)) {
    headers['redelivered'] = true;
    const props = envelope['properties'];
    const info = isRecord(props) ? props['delivery_info'] : undefined;
    if (isRecord(info)) info['redelivered'] = true;
  }
  return pyDumps(envelope);
}

/**
 * The `unacked` hash value kombu writes when it hands a message out:
 * `[<envelope>, "<exchange>", "<routing_key>"]`.
 */
export function unackedValue(raw: string, exchange: string, routingKey: string): string {
  return `[${raw}, ${quotePython(exchange)}, ${quotePython(routingKey)}]`;
}

/** An `unacked` hash value read back. */
export interface UnackedEntry {
  envelope: Record<string, unknown>;
  exchange: string;
  routingKey: string;
}

/**
 * Reads an `unacked` hash value (`[envelope, exchange, routing_key]`).
 * @throws MessageMalformedError when it does not have that shape.
 */
export function parseUnackedValue(value: string | Buffer): UnackedEntry {
  let parsed: unknown;
  try {
    parsed = jsonLoads(value);
  } catch (cause) {
    throw new MessageMalformedError('An unacked entry is not valid JSON', { cause });
  }
  if (!Array.isArray(parsed) || !isRecord(parsed[0])) {
    throw new MessageMalformedError('An unacked entry is not [envelope, exchange, routing_key]');
  }
  const [envelope, exchange, routingKey] = parsed as [Record<string, unknown>, unknown, unknown];
  return {
    envelope,
    exchange: typeof exchange === 'string' ? exchange : '',
    routingKey: typeof routingKey === 'string' ? routingKey : '',
  };
}

/**
 * An `unacked` value whose first element is a string: what celeriac's claim records for a list
 * item that is not a JSON object (its text, JSON-quoted, so that the value is still the
 * `[x, "<exchange>", "<routing_key>"]` kombu's restore reads; kombu logs and drops it, celeriac
 * puts the text back unchanged). Undefined for any other value.
 */
export function parseUnreadableUnacked(
  value: string | Buffer,
): { raw: string; exchange: string; routingKey: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || typeof parsed[0] !== 'string') return undefined;
  const [raw, exchange, routingKey] = parsed as [string, unknown, unknown];
  return {
    raw,
    exchange: typeof exchange === 'string' ? exchange : '',
    routingKey: typeof routingKey === 'string' ? routingKey : '',
  };
}

function decodeBody(body: unknown, encoding: unknown): Buffer {
  if (typeof body !== 'string') return Buffer.alloc(0);
  return encoding === 'base64' ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
}

function propertiesFromWire(props: Record<string, unknown>): MessageProperties {
  const out: MessageProperties = {};
  const extra: Record<string, unknown> = {};
  let extras = 0;
  for (const key in props) {
    if (!Object.prototype.hasOwnProperty.call(props, key)) continue;
    const value = props[key];
    switch (key) {
      case 'correlation_id':
        if (typeof value === 'string') out.correlationId = value;
        break;
      case 'reply_to':
        if (typeof value === 'string') out.replyTo = value;
        break;
      case 'delivery_mode':
        if (typeof value === 'number') out.deliveryMode = value;
        break;
      case 'priority':
        if (typeof value === 'number') out.priority = value;
        break;
      case 'expiration':
        if (typeof value === 'string') out.expiration = value;
        else if (typeof value === 'number') out.expiration = String(value);
        break;
      case 'delivery_info':
      case 'body_encoding':
      case 'delivery_tag':
        break;
      default:
        // defineProperty: an own "__proto__" key (JSON.parse makes one) must stay data, not
        // become extra's prototype.
        Object.defineProperty(extra, key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
        extras++;
    }
  }
  if (extras > 0) out.extra = extra;
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
