/**
 * Task messages, protocol 2 (spec §a): building one with Celery's defaults and encoding it
 * with the headers, body and properties Python 5.2.6 sends. Decoding is in task-decode.ts.
 */
import { EncodeError } from '../errors.js';
import { compress, serialize } from '../serialization/index.js';
import { argsRepr, kwargsRepr } from './repr.js';
import { signatureToWire } from './signature.js';
import { toPythonIso } from './time.js';
import type { Embed, MessageProperties, SignatureData, TaskMessage, WireMessage } from './types.js';

export { decodeTaskMessage } from './task-decode.js';

/**
 * Header names celeriac writes itself. User headers (`extraHeaders`) with one of these names
 * are not written: the modelled field wins.
 */
export const TASK_HEADER_NAMES: ReadonlySet<string> = new Set([
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

/** An embed with nothing in it (what Python sends for a plain task). */
export function emptyEmbed(): Embed {
  return { callbacks: null, errbacks: null, chain: null, chord: null };
}

/**
 * A task message with Celery's defaults for everything not given: `rootId` = `id` (as
 * Celery does for a top-level task), retries 0, no eta/expires, time limits `[null, null]`,
 * an empty embed, `argsrepr`/`kwargsrepr` computed with Celery's saferepr (1024 chars),
 * `correlationId` = `id`, protocol 2, and `lang` `'py'`: Python never reads `lang`, and
 * `'py'` keeps our messages byte-comparable with Python's (spec §a.1). `origin` and
 * `replyTo` default to null: the app knows its node name and reply queue.
 */
export function newTaskMessage(
  init: { id: string; task: string } & Partial<TaskMessage>,
): TaskMessage {
  const args = init.args ?? [];
  const kwargs = init.kwargs ?? {};
  return {
    id: init.id,
    task: init.task,
    args,
    kwargs,
    embed: init.embed ?? emptyEmbed(),
    rootId: init.rootId || init.id,
    parentId: init.parentId ?? null,
    group: init.group ?? null,
    groupIndex: init.groupIndex ?? null,
    retries: init.retries ?? 0,
    eta: init.eta ?? null,
    expires: init.expires ?? null,
    timeLimit: init.timeLimit ?? [null, null],
    shadow: init.shadow ?? null,
    argsrepr: init.argsrepr ?? argsRepr(args),
    kwargsrepr: init.kwargsrepr ?? kwargsRepr(kwargs),
    origin: init.origin ?? null,
    ignoreResult: init.ignoreResult ?? false,
    lang: init.lang ?? 'py',
    replyTo: init.replyTo ?? null,
    correlationId: init.correlationId ?? init.id,
    priority: init.priority ?? null,
    extraHeaders: init.extraHeaders ?? {},
    protocol: 2,
  };
}

/** Options for {@link encodeTaskMessage}. */
export interface EncodeTaskOptions {
  /** Celery serializer name; default `json`. */
  serializer?: string;
  /** Celery compression name (`zlib`, `gzip`, `brotli`); none when undefined. */
  compression?: string | undefined;
  /** Epoch ms used to compute the `expiration` property; default `Date.now()`. */
  now?: number;
}

/**
 * Encodes a protocol-2 task message: headers in Celery's order (then user headers, then
 * `compression`), body `[args, kwargs, embed]` (always 3 elements: 2 crash Python workers),
 * properties `correlationId`, `replyTo`, `deliveryMode` 2, `priority`, and `expiration`
 * (milliseconds until `expires`, as a string) when the message expires.
 * @throws EncodeError naming the offending value (`args[1]: ...`) or the bad option.
 */
export function encodeTaskMessage(msg: TaskMessage, opts: EncodeTaskOptions = {}): WireMessage {
  const serializer = opts.serializer ?? 'json';
  const embed = embedToWire(msg.embed);
  let encoded: ReturnType<typeof serialize>;
  try {
    encoded = serialize([msg.args, msg.kwargs, embed], serializer);
  } catch (err) {
    throw err instanceof EncodeError ? relabel(err, msg.task) : err;
  }
  const headers: Record<string, unknown> = {
    lang: msg.lang ?? 'py',
    task: msg.task,
    id: msg.id,
    shadow: msg.shadow,
    eta: msg.eta === null ? null : toPythonIso(msg.eta),
    expires: msg.expires === null ? null : toPythonIso(msg.expires),
    group: msg.group,
    group_index: msg.groupIndex,
    retries: msg.retries,
    timelimit: [msg.timeLimit[0], msg.timeLimit[1]],
    root_id: msg.rootId,
    parent_id: msg.parentId,
    argsrepr: msg.argsrepr,
    kwargsrepr: msg.kwargsrepr,
    origin: msg.origin,
    ignore_result: msg.ignoreResult,
  };
  for (const key of Object.keys(msg.extraHeaders)) {
    if (!TASK_HEADER_NAMES.has(key)) headers[key] = msg.extraHeaders[key];
  }
  let body = encoded.body;
  if (opts.compression !== undefined) {
    const compressed = compress(body, opts.compression);
    body = compressed.body;
    headers['compression'] = compressed.header;
  }
  return {
    body,
    contentType: encoded.contentType,
    contentEncoding: encoded.contentEncoding,
    headers,
    properties: propertiesOf(msg, opts.now),
  };
}

function embedToWire(embed: Embed): Record<string, unknown> {
  return {
    callbacks: embed.callbacks === null ? null : embed.callbacks.map(signatureToWire),
    errbacks: embed.errbacks === null ? null : embed.errbacks.map(signatureToWire),
    chain: embed.chain === null ? null : embed.chain.map((s: SignatureData) => signatureToWire(s)),
    chord: embed.chord === null ? null : signatureToWire(embed.chord),
  };
}

function propertiesOf(msg: TaskMessage, now: number | undefined): MessageProperties {
  const props: MessageProperties = { correlationId: msg.correlationId ?? msg.id };
  if (msg.replyTo !== null) props.replyTo = msg.replyTo;
  props.deliveryMode = 2;
  if (msg.priority !== null) props.priority = msg.priority;
  if (msg.expires !== null) {
    // kombu: str(int(seconds * 1000)); Celery clamps a past expiry to 0.
    props.expiration = String(Math.max(0, Math.trunc(msg.expires - (now ?? Date.now()))));
  }
  return props;
}

/** `[0][1]: functions...` (the body's path) → `args[1]: functions...`, with the task name. */
function relabel(err: EncodeError, task: string): EncodeError {
  const names = ['args', 'kwargs', 'embed'];
  const hint = err.hint;
  const text =
    hint !== undefined && err.message.endsWith(` (${hint})`)
      ? err.message.slice(0, -(hint.length + 3))
      : err.message;
  const message = text.replace(/^\[([012])\]/, (_m, i: string) => names[Number(i)]!);
  return new EncodeError(
    `cannot encode task '${task}': ${message}`,
    hint === undefined ? { cause: err } : { cause: err, hint },
  );
}
