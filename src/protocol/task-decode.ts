/**
 * Decoding task messages as a Python 5.2.6 worker reads them (spec §a):
 * - protocol 2: headers carry `task` and `id`, the body is `[args, kwargs, embed]`
 *   (a 2-element body is accepted with an empty embed, though it crashes Python workers);
 * - protocol 1: empty headers, everything in a body dict (`taskset` = `group`);
 * - hybrid: `task` header and a body dict with `args`; header values win over the body's.
 * The body is decompressed first when the `compression` header is present.
 */
import { DecodeError, MessageMalformedError } from '../errors.js';
import { decompress, deserialize, type AcceptList } from '../serialization/index.js';
import { argsRepr, kwargsRepr } from './repr.js';
import { describe, signatureFromWire } from './signature.js';
import { parseIsoDate } from './time.js';
import type { Embed, MessageProperties, SignatureData, TaskMessage, WireMessage } from './types.js';

type Dict = Record<string, unknown>;

/** Headers modelled by TaskMessage; every other header goes to `extraHeaders`. */
const MODELLED_HEADERS: ReadonlySet<string> = new Set([
  'lang',
  'task',
  'id',
  'shadow',
  'eta',
  'expires',
  'group',
  'group_index',
  'retries',
  'timelimit',
  'root_id',
  'parent_id',
  'argsrepr',
  'kwargsrepr',
  'origin',
  'ignore_result',
  'compression',
]);

/**
 * Decodes a task message of any protocol version into a TaskMessage.
 * @throws ContentDisallowedError when the content type is not accepted (always for pickle).
 * @throws DecodeError when the body bytes do not decompress or parse.
 * @throws MessageMalformedError naming what is wrong (`header 'id' missing`, `body is not a
 *   list of [args, kwargs, embed]`, ...).
 */
export function decodeTaskMessage(wire: WireMessage, accept: AcceptList): TaskMessage {
  const headers = wire.headers;
  let bytes = wire.body;
  const compression = headers['compression'];
  if (compression !== undefined && compression !== null) {
    if (typeof compression !== 'string')
      throw new DecodeError(`header 'compression' is ${describe(compression)}`);
    bytes = decompress(bytes, compression);
  }
  const body = deserialize(bytes, wire.contentType, wire.contentEncoding, accept);
  if (headers['task'] !== undefined) {
    if (Array.isArray(body)) return fromProtocol2(headers, body, wire.properties);
    if (isDict(body) && 'args' in body) return fromBodyDict(headers, body, wire.properties);
    throw new MessageMalformedError(
      `body is not a list of [args, kwargs, embed] (got ${describe(body)})`,
    );
  }
  if (isDict(body) && body['task'] !== undefined)
    return fromBodyDict(headers, body, wire.properties);
  throw new MessageMalformedError(
    "header 'task' missing, and the body is not a protocol-1 task dict",
    {
      hint: 'a Celery task message needs the task name in the task header (protocol 2)',
    },
  );
}

function fromProtocol2(h: Dict, body: unknown[], props: MessageProperties): TaskMessage {
  if (body.length !== 3 && body.length !== 2) {
    throw new MessageMalformedError(
      `body is not a list of [args, kwargs, embed]: it has ${body.length} elements`,
    );
  }
  const args = body[0];
  const kwargs = body[1];
  if (!Array.isArray(args))
    throw new MessageMalformedError(`body[0] (args) is not a list (got ${describe(args)})`);
  if (!isDict(kwargs))
    throw new MessageMalformedError(`body[1] (kwargs) is not a dict (got ${describe(kwargs)})`);
  return build(h, h, args, kwargs, embedFromWire(body[2]), props, 2);
}

/** Protocol 1 and hybrid messages: fields from the body dict, overridden by headers. */
function fromBodyDict(h: Dict, body: Dict, props: MessageProperties): TaskMessage {
  const args = body['args'] ?? [];
  const kwargs = body['kwargs'] ?? {};
  if (!Array.isArray(args))
    throw new MessageMalformedError(`body 'args' is not a list (got ${describe(args)})`);
  if (!isDict(kwargs)) {
    throw new MessageMalformedError(`body 'kwargs' is not a dict (got ${describe(kwargs)})`, {
      hint: 'task keyword arguments must be a mapping',
    });
  }
  const merged: Dict = { ...body, group: body['group'] ?? body['taskset'] ?? null };
  for (const key of Object.keys(h)) merged[key] = h[key];
  const embed: Embed = {
    callbacks: signatureList(body['callbacks'], 'callbacks'),
    errbacks: signatureList(body['errbacks'], 'errbacks'),
    chain: null,
    chord: oneSignature(body['chord'], 'chord'),
  };
  return build(merged, h, args, kwargs, embed, props, 1);
}

function build(
  f: Dict,
  headers: Dict,
  args: unknown[],
  kwargs: Dict,
  embed: Embed,
  props: MessageProperties,
  protocol: 1 | 2,
): TaskMessage {
  const id = requiredString(f, 'id');
  const extraHeaders: Dict = {};
  for (const key in headers) {
    if (!MODELLED_HEADERS.has(key) && Object.prototype.hasOwnProperty.call(headers, key))
      extraHeaders[key] = headers[key];
  }
  const argsrepr = f['argsrepr'];
  const kwargsrepr = f['kwargsrepr'];
  return {
    id,
    task: requiredString(f, 'task'),
    args,
    kwargs,
    embed,
    rootId: optionalString(f, 'root_id'),
    parentId: optionalString(f, 'parent_id'),
    group: optionalString(f, 'group'),
    groupIndex: optionalInt(f, 'group_index'),
    retries: optionalInt(f, 'retries') ?? 0,
    eta: optionalDate(f, 'eta'),
    expires: optionalDate(f, 'expires'),
    timeLimit: timeLimit(f['timelimit']),
    shadow: optionalString(f, 'shadow'),
    argsrepr: typeof argsrepr === 'string' ? argsrepr : argsRepr(args),
    kwargsrepr: typeof kwargsrepr === 'string' ? kwargsrepr : kwargsRepr(kwargs),
    origin: optionalString(f, 'origin'),
    ignoreResult: optionalBool(f, 'ignore_result'),
    lang: optionalString(f, 'lang'),
    replyTo: props.replyTo ?? null,
    correlationId: props.correlationId ?? null,
    priority: typeof props.priority === 'number' ? props.priority : null,
    extraHeaders,
    protocol,
  };
}

function embedFromWire(v: unknown): Embed {
  if (v === undefined || v === null)
    return { callbacks: null, errbacks: null, chain: null, chord: null };
  if (!isDict(v))
    throw new MessageMalformedError(`body[2] (embed) is not a dict (got ${describe(v)})`);
  return {
    callbacks: signatureList(v['callbacks'], 'embed.callbacks'),
    errbacks: signatureList(v['errbacks'], 'embed.errbacks'),
    chain: signatureList(v['chain'], 'embed.chain'),
    chord: oneSignature(v['chord'], 'embed.chord'),
  };
}

function signatureList(v: unknown, where: string): SignatureData[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v))
    throw new MessageMalformedError(`${where} is not a list of signatures (got ${describe(v)})`);
  return v.map((item, i) => oneSignature(item, `${where}[${i}]`) as SignatureData);
}

function oneSignature(v: unknown, where: string): SignatureData | null {
  if (v === undefined || v === null) return null;
  try {
    return signatureFromWire(v);
  } catch (err) {
    if (err instanceof MessageMalformedError)
      throw new MessageMalformedError(`${where}: ${err.message}`, { cause: err });
    throw err;
  }
}

function requiredString(f: Dict, key: string): string {
  const v = f[key];
  if (v === undefined || v === null) throw new MessageMalformedError(`header '${key}' missing`);
  if (typeof v !== 'string' || v === '') {
    throw new MessageMalformedError(
      `header '${key}' must be a non-empty string (got ${describe(v)})`,
    );
  }
  return v;
}

function optionalString(f: Dict, key: string): string | null {
  const v = f[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string')
    throw new MessageMalformedError(
      `header '${key}' must be a string or null (got ${describe(v)})`,
    );
  return v;
}

function optionalInt(f: Dict, key: string): number | null {
  const v = f[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new MessageMalformedError(
      `header '${key}' must be an integer or null (got ${describe(v)})`,
    );
  }
  return v;
}

function optionalBool(f: Dict, key: string): boolean {
  const v = f[key];
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  throw new MessageMalformedError(`header '${key}' must be a bool (got ${describe(v)})`);
}

function optionalDate(f: Dict, key: string): number | null {
  const v = f[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') {
    throw new MessageMalformedError(
      `header '${key}' must be an ISO 8601 string or null (got ${describe(v)})`,
    );
  }
  try {
    return parseIsoDate(v);
  } catch (err) {
    throw new MessageMalformedError(
      `header '${key}' is not an ISO 8601 date: ${JSON.stringify(v)}`,
      { cause: err },
    );
  }
}

function timeLimit(v: unknown): [number | null, number | null] {
  if (v === undefined || v === null) return [null, null];
  if (
    Array.isArray(v) &&
    v.length === 2 &&
    v.every((x) => x === null || (typeof x === 'number' && Number.isFinite(x)))
  ) {
    return [v[0] as number | null, v[1] as number | null];
  }
  throw new MessageMalformedError(
    `header 'timelimit' must be [hard, soft] seconds (got ${describe(v)})`,
  );
}

function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}
