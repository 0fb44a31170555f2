/**
 * Typed, camelCase views of Celery's wire shapes. Decoders in this folder are the one place
 * where snake_case wire data becomes these values; encoders turn them back.
 */

/** Celery task states (spec §e). */
export type State =
  | 'PENDING'
  | 'RECEIVED'
  | 'STARTED'
  | 'SUCCESS'
  | 'FAILURE'
  | 'RETRY'
  | 'REVOKED'
  | 'REJECTED'
  | 'IGNORED'
  | (string & {});

/** A signature in Celery's dict form (spec §f.1), camelCase. */
export interface SignatureData {
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  /** apply_async options, wire names (snake_case keys) kept as sent: task_id, queue, ... */
  options: Record<string, unknown>;
  subtaskType: 'chain' | 'group' | 'chord' | 'chunks' | 'xmap' | 'xstarmap' | null;
  immutable: boolean;
  /** Keys we did not recognise, passed through untouched when re-encoded. */
  extra?: Record<string, unknown>;
}

/** The `embed` part of a protocol-2 body. */
export interface Embed {
  callbacks: SignatureData[] | null;
  errbacks: SignatureData[] | null;
  /** Remaining chain steps, REVERSED: the next step is the last element. */
  chain: SignatureData[] | null;
  chord: SignatureData | null;
}

/**
 * A decoded task message: everything a worker needs to run a task, whatever protocol
 * version or transport it came from.
 */
export interface TaskMessage {
  id: string;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  embed: Embed;
  rootId: string | null;
  parentId: string | null;
  group: string | null;
  groupIndex: number | null;
  retries: number;
  /** Epoch milliseconds, or null. */
  eta: number | null;
  /** Epoch milliseconds, or null. */
  expires: number | null;
  /** [hard, soft] seconds; null = not set. */
  timeLimit: [number | null, number | null];
  shadow: string | null;
  argsrepr: string;
  kwargsrepr: string;
  origin: string | null;
  ignoreResult: boolean;
  lang: string | null;
  replyTo: string | null;
  correlationId: string | null;
  priority: number | null;
  /** Headers we do not model (user headers, e.g. `x-custom`), passed through. */
  extraHeaders: Record<string, unknown>;
  /** 1 or 2: the protocol version the message was sent with. */
  protocol: 1 | 2;
}

/** Wire properties of a message, camelCase. Unknown properties ride in `extra`. */
export interface MessageProperties {
  correlationId?: string | undefined;
  replyTo?: string | undefined;
  /** 1 = transient, 2 = persistent. */
  deliveryMode?: number | undefined;
  priority?: number | undefined;
  /** Milliseconds as a string, as AMQP wants it. */
  expiration?: string | undefined;
  extra?: Record<string, unknown> | undefined;
}

/**
 * A message as transports move it: serialized (and maybe compressed) body bytes plus the
 * metadata every Celery transport carries. This is kombu's Message, transport-neutral.
 */
export interface WireMessage {
  body: Buffer;
  contentType: string;
  contentEncoding: string;
  /** Celery headers as they go on the wire (snake_case keys). */
  headers: Record<string, unknown>;
  properties: MessageProperties;
}

/** Python-compatible exception info (spec §d.1). */
export interface ExceptionInfo {
  excType: string;
  excModule: string;
  excMessage: unknown[];
}

/** A result tuple (spec §d.2): [[id, parent], children|null]. Kept in wire form. */
export type ResultTuple = [[string, ResultTuple | null], ResultTuple[] | null];

/** Task meta as stored by result backends (spec §d.1), camelCase. */
export interface TaskMeta {
  taskId: string;
  status: State;
  /** Return value, or exception info for FAILURE/RETRY/REVOKED, or {pid, hostname} for STARTED. */
  result: unknown;
  traceback: string | null;
  children: unknown[];
  /** Naive UTC ISO string, or null for non-ready states. */
  dateDone: string | null;
  groupId?: string | undefined;
  parentId?: string | undefined;
  // result_extended fields
  name?: string | undefined;
  args?: unknown[] | undefined;
  kwargs?: Record<string, unknown> | undefined;
  worker?: string | undefined;
  retries?: number | undefined;
  queue?: string | undefined;
}
