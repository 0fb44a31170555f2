/**
 * Remote control of workers, the client side (Celery's `app.control`, spec §h): commands are
 * broadcast on the fanout exchange `celery.pidbox`; with `reply: true` the replies of the
 * workers that handled them are collected until the timeout (or `limit` replies). Works with
 * Python and celeriac workers alike.
 *
 * @example
 * const replies = await app.control.ping({ timeout: 1 }); // [{ 'celery@host': { ok: 'pong' } }]
 * await app.control.revoke(taskId, { terminate: true, signal: 'SIGKILL' });
 * const active = await app.control.inspect().active(); // { 'celery@host': [ { id, name, ... } ] }
 */
import type { LamportClock } from '../events/clock.js';
import {
  encodeControlRequest,
  pidboxNames,
  requestHeaders,
  type ErrorReply,
  type OkReply,
} from '../protocol/pidbox.js';
import type { WireMessage } from '../protocol/types.js';
import { serialize } from '../serialization/index.js';
import type { Transport } from '../transport/types.js';
import { uuid } from '../util/ids.js';
import { Inspect, type InspectOptions } from './inspect.js';
import { ReplyQueue } from './reply-queue.js';

/** What remote control needs from its app. */
export interface ControlHost {
  connection(): Promise<Transport>;
  /** The app's per-process id: the routing key of its reply queue. */
  readonly oid: string;
  /** The app's logical clock. */
  readonly lamport: LamportClock;
  /** Celery's control_exchange (default `celery`). */
  readonly conf: { readonly controlExchange: string };
}

/** Options of {@link Control.broadcast}. */
export interface BroadcastOptions {
  /** Keyword arguments of the command. */
  arguments?: Record<string, unknown> | undefined;
  /** Only these nodes handle it (default: all). */
  destination?: readonly string[] | null | undefined;
  /** Select nodes by pattern instead (with `matcher`). */
  pattern?: string | undefined;
  /** `glob` (default for patterns) or `pcre`. */
  matcher?: 'glob' | 'pcre' | undefined;
  /** Wait for replies (default false: fire and forget, as Celery's casts). */
  reply?: boolean | undefined;
  /** Seconds to wait for replies. Default 1. */
  timeout?: number | undefined;
  /** Stop after this many replies (default: the number of destinations, if given). */
  limit?: number | undefined;
  /** Called for each reply as it arrives. */
  callback?: ((reply: Record<string, unknown>) => void) | undefined;
}

/** Common options of the command helpers. */
export type CommandOptions = Omit<BroadcastOptions, 'arguments'>;

/** `{node: reply}` objects, one per replying node, in arrival order. */
export type Replies<T = unknown> = Array<Record<string, T>>;

/** Replies of commands answering `{"ok": ...}` or `{"error": ...}`. */
export type StatusReplies = Replies<OkReply<string> | ErrorReply>;

/** Celery's app.control. */
export class Control {
  readonly #host: ControlHost;
  #replies: ReplyQueue | undefined;

  constructor(host: ControlHost) {
    this.#host = host;
  }

  /** Names of the exchanges and queues in use. */
  get names(): ReturnType<typeof pidboxNames> {
    return pidboxNames(this.#host.conf.controlExchange);
  }

  /** An inspector: read-only commands whose replies are merged by node. */
  inspect(options: InspectOptions = {}): Inspect {
    return new Inspect(this, options);
  }

  /**
   * Sends a command to the workers. With `reply: true`, resolves with the replies received
   * within `timeout` seconds (or once `limit` arrived); otherwise with `[]` once sent.
   */
  async broadcast(command: string, options: BroadcastOptions = {}): Promise<Replies> {
    const host = this.#host;
    const names = this.names;
    const timeout = options.timeout ?? 1;
    const destination = options.destination ? [...options.destination] : null;
    const limit =
      options.limit ?? (destination && destination.length > 0 ? destination.length : undefined);
    const ticket = options.reply ? uuid() : undefined;
    const replies: Replies = [];
    let done: (() => void) | undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    let stop: (() => Promise<void>) | undefined;
    if (ticket !== undefined) {
      stop = await this.#replyQueue().listen(ticket, (body) => {
        if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
        const reply = body as Record<string, unknown>;
        replies.push(reply);
        options.callback?.(reply);
        if (limit !== undefined && replies.length >= limit) done?.();
      });
    }
    try {
      const body = encodeControlRequest({
        method: command,
        arguments: options.arguments ?? {},
        destination,
        pattern: options.pattern ?? null,
        matcher: options.pattern ? (options.matcher ?? 'glob') : null,
        ticket,
        replyTo:
          ticket === undefined
            ? undefined
            : { exchange: names.replyExchange, routingKey: host.oid },
      });
      const s = serialize(body, 'json');
      const message: WireMessage = {
        body: s.body,
        contentType: s.contentType,
        contentEncoding: s.contentEncoding,
        headers: requestHeaders(host.lamport.forward(), Date.now() / 1000 + timeout),
        properties: { deliveryMode: 2 },
      };
      const transport = await host.connection();
      await transport.broadcast(names.exchange, '', message);
      if (ticket === undefined) return [];
      if (limit === undefined || replies.length < limit) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          finished,
          new Promise<void>((r) => (timer = setTimeout(r, timeout * 1000))),
        ]);
        clearTimeout(timer);
      }
      return replies;
    } finally {
      await stop?.();
    }
  }

  #replyQueue(): ReplyQueue {
    const names = this.names;
    this.#replies ??= new ReplyQueue({
      connection: () => this.#host.connection(),
      clock: this.#host.lamport,
      exchange: names.replyExchange,
      routingKey: this.#host.oid,
      queue: names.replyQueue(this.#host.oid),
    });
    return this.#replies;
  }

  /** `ping`: the replies of live workers, `[{node: {ok: 'pong'}}]`. */
  ping(options: CommandOptions = {}): Promise<Replies<OkReply<'pong'> | ErrorReply>> {
    return this.broadcast('ping', { reply: true, ...options }) as Promise<
      Replies<OkReply<'pong'> | ErrorReply>
    >;
  }

  /**
   * Revokes tasks: workers skip them when they arrive (or are about to start), and with
   * `terminate` stop them if running (`signal`, default SIGTERM).
   */
  revoke(
    taskId: string | readonly string[],
    options: CommandOptions & { terminate?: boolean | undefined; signal?: string | undefined } = {},
  ): Promise<StatusReplies> {
    const { terminate = false, signal = 'SIGTERM', ...rest } = options;
    return this.#status(
      'revoke',
      { task_id: typeof taskId === 'string' ? taskId : [...taskId], terminate, signal },
      rest,
    );
  }

  /** Terminates running tasks with a signal (revoke with terminate). */
  terminate(
    taskId: string | readonly string[],
    signal = 'SIGTERM',
    options: CommandOptions = {},
  ): Promise<StatusReplies> {
    return this.revoke(taskId, { ...options, terminate: true, signal });
  }

  /** Sets a task's rate limit on the workers (`'10/m'`; null or '0' disables it). */
  rateLimit(
    taskName: string,
    rateLimit: string | number | null,
    options: CommandOptions = {},
  ): Promise<StatusReplies> {
    return this.#status('rate_limit', { task_name: taskName, rate_limit: rateLimit }, options);
  }

  /** Sets a task's time limits on the workers (seconds; null = none). */
  timeLimit(
    taskName: string,
    limits: { soft?: number | null | undefined; hard?: number | null | undefined },
    options: CommandOptions = {},
  ): Promise<StatusReplies> {
    return this.#status(
      'time_limit',
      { task_name: taskName, hard: limits.hard ?? null, soft: limits.soft ?? null },
      options,
    );
  }

  /** Makes workers consume from a queue too. */
  addConsumer(
    queue: string,
    options: CommandOptions & {
      exchange?: string | undefined;
      exchangeType?: string | undefined;
      routingKey?: string | undefined;
    } = {},
  ): Promise<StatusReplies> {
    const { exchange = null, exchangeType = 'direct', routingKey = null, ...rest } = options;
    return this.#status(
      'add_consumer',
      { queue, exchange, exchange_type: exchangeType, routing_key: routingKey },
      rest,
    );
  }

  /** Makes workers stop consuming from a queue. */
  cancelConsumer(queue: string, options: CommandOptions = {}): Promise<StatusReplies> {
    return this.#status('cancel_consumer', { queue }, options);
  }

  /** Shuts workers down (warm). Workers never reply to it. */
  shutdown(options: CommandOptions = {}): Promise<StatusReplies> {
    return this.#status('shutdown', {}, options);
  }

  /** Asks workers for an immediate heartbeat event (they reply null). */
  heartbeat(options: CommandOptions = {}): Promise<Replies<null>> {
    return this.broadcast('heartbeat', options) as Promise<Replies<null>>;
  }

  /** Turns task events on. */
  enableEvents(options: CommandOptions = {}): Promise<StatusReplies> {
    return this.#status('enable_events', {}, options);
  }

  /** Turns task events off. */
  disableEvents(options: CommandOptions = {}): Promise<StatusReplies> {
    return this.#status('disable_events', {}, options);
  }

  /** Adds `n` pool slots. */
  poolGrow(n = 1, options: CommandOptions = {}): Promise<StatusReplies> {
    return this.#status('pool_grow', { n }, options);
  }

  /** Removes `n` pool slots. */
  poolShrink(n = 1, options: CommandOptions = {}): Promise<StatusReplies> {
    return this.#status('pool_shrink', { n }, options);
  }

  /** Changes autoscale bounds (workers started with autoscaling). */
  autoscale(max: number, min: number, options: CommandOptions = {}): Promise<StatusReplies> {
    return this.#status('autoscale', { max, min }, options);
  }

  /** Restarts the pool's children (needs workerPoolRestarts on the worker). */
  poolRestart(
    options: CommandOptions & { modules?: string[] | undefined; reload?: boolean | undefined } = {},
  ): Promise<StatusReplies> {
    const { modules = null, reload = false, ...rest } = options;
    return this.#status('pool_restart', { modules, reload, reloader: null }, rest);
  }

  #status(
    command: string,
    args: Record<string, unknown>,
    options: CommandOptions,
  ): Promise<StatusReplies> {
    return this.broadcast(command, { ...options, arguments: args }) as Promise<StatusReplies>;
  }
}
