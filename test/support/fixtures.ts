/**
 * Loading the captured Celery 5.2.6 fixtures (test/fixtures/protocol/, see its README) and
 * turning their Redis envelopes and AMQP messages into WireMessages.
 *
 * Fixtures are parsed with our own `jsonLoads`, so big integers (2**70 in task_json_types)
 * stay exact as BigInt instead of being rounded by JSON.parse.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MessageProperties, WireMessage } from '../../src/protocol/types.js';
import { jsonLoads } from '../../src/serialization/json.js';

/** Absolute path of test/fixtures/protocol/. */
export const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/protocol/', import.meta.url));

/** A JSON object as found in the fixtures. */
export type Json = Record<string, unknown>;

/** Names (without `.json`) of every fixture file. */
export function fixtureNames(): string[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** Loads one fixture file by name (`task_plain`). */
export function loadFixture(name: string): Json {
  const value = jsonLoads(readFileSync(`${FIXTURE_DIR}${name}.json`));
  return asObject(value, name);
}

/** One pushed message of a fixture (`messages` or `messages_in_push_order`). */
export interface FixtureMessage {
  file: string;
  index: number;
  envelope: RedisEnvelope;
  /** Absent for pickle/yaml fixtures. */
  bodyDecoded: unknown;
  hasBodyDecoded: boolean;
  entry: Json;
}

/** kombu's Redis envelope (spec §b.1). */
export interface RedisEnvelope {
  body: string;
  'content-type': string;
  'content-encoding': string;
  headers: Json;
  properties: Json;
}

/** Every Redis-pushed message in a fixture file. */
export function fixtureMessages(file: string, fixture: Json = loadFixture(file)): FixtureMessage[] {
  const list = fixture['messages'] ?? fixture['messages_in_push_order'];
  if (!Array.isArray(list)) return [];
  const out: FixtureMessage[] = [];
  list.forEach((raw: unknown, index) => {
    const entry = asObject(raw, `${file}[${index}]`);
    const envelope = entry['envelope'];
    if (
      typeof envelope !== 'object' ||
      envelope === null ||
      typeof (envelope as Json)['body'] !== 'string'
    )
      return;
    out.push({
      file,
      index,
      envelope: envelope as RedisEnvelope,
      bodyDecoded: entry['body_decoded'],
      hasBodyDecoded: 'body_decoded' in entry,
      entry,
    });
  });
  return out;
}

/** True when the message is a Celery task (protocol-2 `task` header or protocol-1 body). */
export function isTaskMessage(m: FixtureMessage): boolean {
  if (typeof m.envelope.headers?.['task'] === 'string') return true;
  const body = m.bodyDecoded;
  return (
    typeof body === 'object' &&
    body !== null &&
    !Array.isArray(body) &&
    typeof (body as Json)['task'] === 'string'
  );
}

/** Turns a kombu Redis envelope into a WireMessage (base64 body decoded, properties camelCased). */
export function wireFromRedisEnvelope(env: RedisEnvelope): WireMessage {
  return {
    body: Buffer.from(env.body, 'base64'),
    contentType: env['content-type'],
    contentEncoding: env['content-encoding'],
    headers: env.headers ?? {},
    properties: propertiesFromWire(env.properties ?? {}),
  };
}

/** Turns an AMQP capture (`properties` with `application_headers`, `body_base64`) into a WireMessage. */
export function wireFromAmqp(msg: Json): WireMessage {
  const props = asObject(msg['properties'], 'properties');
  const { content_type, content_encoding, application_headers, ...rest } = props;
  return {
    body: Buffer.from(String(msg['body_base64']), 'base64'),
    contentType: String(content_type),
    contentEncoding: String(content_encoding),
    headers: asObject(application_headers ?? {}, 'application_headers'),
    properties: propertiesFromWire(rest),
  };
}

function propertiesFromWire(props: Json): MessageProperties {
  const out: MessageProperties = {};
  const extra: Json = {};
  for (const [k, v] of Object.entries(props)) {
    if (k === 'correlation_id' && typeof v === 'string') out.correlationId = v;
    else if (k === 'reply_to' && typeof v === 'string') out.replyTo = v;
    else if (k === 'delivery_mode' && typeof v === 'number') out.deliveryMode = v;
    else if (k === 'priority' && typeof v === 'number') out.priority = v;
    else if (k === 'expiration' && typeof v === 'string') out.expiration = v;
    else extra[k] = v;
  }
  out.extra = extra;
  return out;
}

/** Replaces the fixtures' `{"__msgpack_bin_hex__": hex}` placeholders by Buffers. */
export function withMsgpackBins(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withMsgpackBins);
  if (typeof value === 'object' && value !== null) {
    const obj = value as Json;
    const hex = obj['__msgpack_bin_hex__'];
    if (typeof hex === 'string' && Object.keys(obj).length === 1) return Buffer.from(hex, 'hex');
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, withMsgpackBins(v)]));
  }
  return value;
}

/** Narrows to a plain object or throws naming where. */
export function asObject(value: unknown, where: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`fixture ${where}: expected an object`);
  }
  return value as Json;
}
