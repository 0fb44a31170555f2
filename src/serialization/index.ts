/**
 * Serializer registry by Celery's names and content types (spec §i.1), plus compression.
 *
 * celeriac writes json and msgpack, reads json, msgpack and raw data, and never reads or
 * writes pickle or yaml: unpickling runs arbitrary code, and yaml has no safe reader here.
 * `application/data` and `application/text` are always trusted, as in kombu.
 */
import { ConfigError, ContentDisallowedError, DecodeError, EncodeError } from '../errors.js';
import { fastDumps, jsonLoads } from './json.js';
import { msgpackDecode, msgpackEncode } from './msgpack.js';

export { pyDumps, fastDumps, jsonLoads } from './json.js';
export { compress, decompress } from './compression.js';

/** Content types the consumer accepts (already normalized by {@link normalizeAccept}). */
export type AcceptList = ReadonlySet<string>;

const JSON_TYPE = 'application/json';
const MSGPACK_TYPE = 'application/x-msgpack';
const PICKLE_TYPE = 'application/x-python-serialize';
const YAML_TYPE = 'application/x-yaml';

/** Celery serializer names → content type. `auth` is the signing serializer's wire type. */
const TYPE_BY_NAME: Readonly<Record<string, string>> = {
  json: JSON_TYPE,
  msgpack: MSGPACK_TYPE,
  yaml: YAML_TYPE,
  pickle: PICKLE_TYPE,
  auth: 'application/data',
};

/** kombu trusts these whatever the accept list says. */
const TRUSTED: ReadonlySet<string> = new Set(['application/data', 'application/text']);

/** Why celeriac refuses a content type in both directions. */
const REFUSED: Readonly<Record<string, string>> = {
  [PICKLE_TYPE]:
    'celeriac never unpickles: pickle runs arbitrary code from whoever can publish a message',
  [YAML_TYPE]: 'celeriac has no safe YAML reader',
};

/**
 * Serializes a value with one of Celery's serializers.
 * @param serializer `json` (compact JSON, utf-8) or `msgpack` (binary).
 * @throws EncodeError for values the serializer cannot carry, for `pickle`/`yaml` (refused),
 *   and for unknown names.
 */
export function serialize(
  value: unknown,
  serializer: string,
): { body: Buffer; contentType: string; contentEncoding: string } {
  switch (serializer) {
    case 'json':
      return {
        body: Buffer.from(fastDumps(value), 'utf8'),
        contentType: JSON_TYPE,
        contentEncoding: 'utf-8',
      };
    case 'msgpack':
      return { body: msgpackEncode(value), contentType: MSGPACK_TYPE, contentEncoding: 'binary' };
    case 'pickle':
    case 'yaml':
      throw new EncodeError(`celeriac refuses to produce ${serializer} messages`, {
        hint: `${REFUSED[TYPE_BY_NAME[serializer] ?? ''] ?? ''}; use 'json' (Python's default) or 'msgpack'`,
      });
    default:
      throw new EncodeError(`unknown serializer '${serializer}'`, {
        hint: "valid serializers are 'json' and 'msgpack'",
      });
  }
}

/**
 * Turns an `acceptContent` list of names (`json`) or content types (`application/json`)
 * into the set of content types {@link deserialize} checks. Names or types for pickle and
 * yaml are kept (configs copied from Python often list them) but such messages are still
 * refused when they arrive.
 * @throws ConfigError (setting `acceptContent`) for an unknown name.
 */
export function normalizeAccept(list: readonly string[]): AcceptList {
  const out = new Set<string>();
  for (const item of list) {
    const trimmed = item.trim().toLowerCase();
    if (trimmed.includes('/')) {
      out.add(normalizeContentType(trimmed));
      continue;
    }
    const type = TYPE_BY_NAME[trimmed];
    if (type === undefined) {
      throw new ConfigError(`acceptContent lists unknown serializer '${item}'`, {
        setting: 'acceptContent',
        hint: `use names (${Object.keys(TYPE_BY_NAME).join(', ')}) or content types such as 'application/json'`,
      });
    }
    out.add(type);
  }
  return out;
}

/**
 * Deserializes a message body (already decompressed).
 * @throws ContentDisallowedError when the type is not accepted, and always for pickle/yaml.
 * @throws DecodeError when the bytes do not parse.
 */
export function deserialize(
  body: Buffer,
  contentType: string,
  contentEncoding: string,
  accept: AcceptList,
): unknown {
  const type =
    contentType === JSON_TYPE ? JSON_TYPE : normalizeContentType(contentType || 'application/data');
  const refusal = REFUSED[type];
  if (refusal !== undefined) {
    throw new ContentDisallowedError(type, {
      hint: accept.has(type)
        ? `${refusal}, even though acceptContent lists it; make the producers send json or msgpack`
        : `${refusal}; make the producers send json or msgpack`,
    });
  }
  if (!accept.has(type) && !TRUSTED.has(type)) throw new ContentDisallowedError(type);
  if (body.length === 0) return body;
  if (type === JSON_TYPE) return jsonLoads(body);
  if (type === MSGPACK_TYPE) return msgpackDecode(body);
  return decodeText(body, (contentEncoding || 'utf-8').toLowerCase());
}

/** kombu returns undecodable types as text in their encoding, or as bytes for `binary`. */
function decodeText(body: Buffer, encoding: string): Buffer | string {
  if (encoding === 'binary' || encoding === 'ascii-8bit') return body;
  const nodeEncoding = encoding === 'utf-8' || encoding === 'utf8' ? 'utf8' : encoding;
  if (!Buffer.isEncoding(nodeEncoding)) {
    throw new DecodeError(`unknown content encoding '${encoding}'`, {
      hint: "use 'utf-8' or 'binary'",
    });
  }
  return body.toString(nodeEncoding);
}

/** Lower-cases and drops parameters: `Application/JSON; charset=utf-8` → `application/json`. */
function normalizeContentType(type: string): string {
  const semi = type.indexOf(';');
  return (semi === -1 ? type : type.slice(0, semi)).trim().toLowerCase();
}
