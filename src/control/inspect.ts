/**
 * Celery's `app.control.inspect()`: read-only commands whose replies are merged into one
 * object by node name, decoded into typed values. A node that answers with an error (an old
 * worker without the command, say) appears with `{ error }` instead.
 */
import { matchNode, type ErrorReply, type OkReply } from '../protocol/pidbox.js';
import {
  decodeQueueInfo,
  decodeRequestInfo,
  decodeScheduledInfo,
  decodeStats,
  type QueueInfo,
  type RequestInfo,
  type ScheduledInfo,
  type WorkerStats,
} from '../protocol/pidbox-replies.js';
import type { Control, Replies } from './control.js';

/** Options of {@link Inspect}. */
export interface InspectOptions {
  /** Seconds to wait for replies. Default 1. */
  timeout?: number | undefined;
  /** Only these nodes (default: all). */
  destination?: readonly string[] | null | undefined;
  pattern?: string | undefined;
  matcher?: 'glob' | 'pcre' | undefined;
  limit?: number | undefined;
  /** Called with each raw reply `{node: reply}` as it arrives. */
  callback?: ((reply: Record<string, unknown>) => void) | undefined;
}

/** Replies by node name; a node's value is the decoded reply, or its error. */
export type ByNode<T> = Record<string, T | ErrorReply>;

/** State of a task a worker holds, as `query_task` reports it. */
export type TaskQuery = Record<
  string,
  [state: 'active' | 'reserved' | 'ready' | string, info: RequestInfo]
>;

/** An inspector. */
export class Inspect {
  readonly #control: Control;
  readonly #o: InspectOptions;

  constructor(control: Control, options: InspectOptions = {}) {
    this.#control = control;
    this.#o = options;
  }

  /** Sends any inspect command; replies merged by node, undecoded (Celery's `_request`). */
  async request(
    command: string,
    args: Record<string, unknown> = {},
  ): Promise<Record<string, unknown>> {
    const replies: Replies = await this.#control.broadcast(command, {
      arguments: args,
      destination: this.#o.destination,
      pattern: this.#o.pattern,
      matcher: this.#o.matcher,
      limit: this.#o.limit,
      timeout: this.#o.timeout,
      callback: this.#o.callback,
      reply: true,
    });
    const byNode: Record<string, unknown> = {};
    for (const reply of replies) Object.assign(byNode, reply);
    if (this.#o.pattern) {
      const { pattern, matcher = 'glob' } = this.#o;
      for (const node of Object.keys(byNode))
        if (!matchNode(node, pattern, matcher)) delete byNode[node];
    }
    return byNode;
  }

  async #decoded<T>(
    command: string,
    args: Record<string, unknown>,
    decode: (v: unknown) => T,
  ): Promise<ByNode<T>> {
    const raw = await this.request(command, args);
    const out: ByNode<T> = {};
    for (const [node, reply] of Object.entries(raw))
      out[node] = isError(reply) ? reply : decode(reply);
    return out;
  }

  /** `{node: {ok: 'pong'}}` for each live node. */
  ping(): Promise<ByNode<OkReply<string>>> {
    return this.#decoded('ping', {}, (v) => v as OkReply<string>);
  }

  /** Worker statistics. */
  stats(): Promise<ByNode<WorkerStats>> {
    return this.#decoded('stats', {}, decodeStats);
  }

  /** Tasks running now; with `safe`, arguments as repr strings. */
  active(options: { safe?: boolean } = {}): Promise<ByNode<RequestInfo[]>> {
    return this.#decoded('active', { safe: options.safe ?? null }, (v) =>
      list(v).map(decodeRequestInfo),
    );
  }

  /** ETA tasks held by workers. */
  scheduled(): Promise<ByNode<ScheduledInfo[]>> {
    return this.#decoded('scheduled', {}, (v) => list(v).map(decodeScheduledInfo));
  }

  /** Tasks received but not started. */
  reserved(): Promise<ByNode<RequestInfo[]>> {
    return this.#decoded('reserved', {}, (v) => list(v).map(decodeRequestInfo));
  }

  /** Revoked task ids. */
  revoked(): Promise<ByNode<string[]>> {
    return this.#decoded('revoked', {}, (v) => list(v).map(String));
  }

  /** Registered task names (with `taskinfoitems`: `name [attr=value ...]`). */
  registered(...taskinfoitems: string[]): Promise<ByNode<string[]>> {
    return this.#decoded('registered', { taskinfoitems }, (v) => list(v).map(String));
  }

  /** Queues consumed. */
  activeQueues(): Promise<ByNode<QueueInfo[]>> {
    return this.#decoded('active_queues', {}, (v) => list(v).map(decodeQueueInfo));
  }

  /** What workers know of these task ids. */
  queryTask(...ids: string[]): Promise<ByNode<TaskQuery>> {
    return this.#decoded('query_task', { ids }, (v) => {
      const out: TaskQuery = {};
      for (const [id, entry] of Object.entries(rec(v))) {
        const [state, info] = list(entry);
        out[id] = [String(state), decodeRequestInfo(info)];
      }
      return out;
    });
  }

  /** Configuration (Celery's names); `withDefaults` includes unchanged settings. */
  conf(withDefaults = false): Promise<ByNode<Record<string, unknown>>> {
    return this.#decoded('conf', { with_defaults: withDefaults }, rec);
  }

  /** Logical clocks. */
  clock(): Promise<ByNode<{ clock: number }>> {
    return this.#decoded('clock', {}, (v) => ({ clock: Number(rec(v)['clock'] ?? 0) }));
  }

  /** Bug-report text of each worker. */
  report(): Promise<ByNode<OkReply<string>>> {
    return this.#decoded('report', {}, (v) => v as OkReply<string>);
  }

  /** Mingle's hello: other workers' revoked ids and clocks. */
  hello(
    fromNode: string,
    revoked: Record<string, number> = {},
  ): Promise<ByNode<{ revoked: string[]; clock: number } | null>> {
    return this.#decoded('hello', { from_node: fromNode, revoked }, (v) =>
      v === null
        ? null
        : { revoked: Object.keys(rec(rec(v)['revoked'])), clock: Number(rec(v)['clock'] ?? 0) },
    );
  }
}

function isError(v: unknown): v is ErrorReply {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.keys(v).length === 1 &&
    'error' in v
  );
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function rec(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : {};
}
