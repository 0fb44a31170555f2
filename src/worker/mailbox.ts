/**
 * The worker's mailbox (kombu's pidbox Node, spec §h): listens on the fanout exchange
 * `celery.pidbox` as `<nodename>.celery.pidbox`, handles the requests meant for this node
 * (destination list, or pattern with a glob/pcre matcher) and, when the request carries
 * `reply_to`, publishes `{<nodename>: <reply>}` to the reply exchange with the requester's
 * routing key and headers `{ticket, clock}`. Like Python's, it moves the clock forward on
 * every request and merges the requester's clock.
 *
 * A handler that throws is answered with `{"error": "<Python repr of the error>"}`; an
 * unknown command with `{"error": "KeyError('<name>')"}`, as Celery does.
 */
import type { LamportClock } from '../events/clock.js';
import {
  clockHeader,
  decodeControlRequest,
  encodeReply,
  pidboxNames,
  replyHeaders,
  requestIsFor,
  type ControlRequest,
} from '../protocol/pidbox.js';
import { pyRepr } from '../protocol/repr.js';
import type { WireMessage } from '../protocol/types.js';
import { deserialize, normalizeAccept, serialize } from '../serialization/index.js';
import type { Subscription, Transport } from '../transport/types.js';
import type { Logger } from '../util/logger.js';

/** A command handler: keyword arguments in, reply out (or {@link NO_REPLY}). */
export type ControlHandler = (args: Record<string, unknown>) => unknown;

/** Returned by a handler that must not be answered (shutdown). */
export const NO_REPLY: unique symbol = Symbol('no reply');

/** An error whose reply is `{"error": "<type>('<message>')"}` (a Python exception repr). */
export class PyError extends Error {
  constructor(
    readonly pyType: string,
    message: string,
  ) {
    super(message);
    this.name = pyType;
  }

  /** Python's repr: `ValueError('Pool restarts not enabled')`. */
  get repr(): string {
    return `${this.pyType}(${pyRepr(this.message)})`;
  }
}

/** Options of {@link Mailbox}. */
export interface MailboxOptions {
  transport: Transport;
  hostname: string;
  clock: LamportClock;
  /** Celery's control_exchange (default `celery`). */
  namespace: string;
  handlers: ReadonlyMap<string, ControlHandler>;
  logger: Logger;
}

/** Python workers accept json only on the mailbox; msgpack is read too. */
const ACCEPT = normalizeAccept(['json', 'msgpack']);

/** The remote control endpoint of one worker. */
export class Mailbox {
  readonly #o: MailboxOptions;
  #subscription: Subscription | undefined;
  readonly #pending = new Set<Promise<void>>();

  constructor(options: MailboxOptions) {
    this.#o = options;
  }

  /** Starts listening. */
  async start(): Promise<void> {
    const names = pidboxNames(this.#o.namespace);
    this.#subscription = await this.#o.transport.subscribe(
      names.exchange,
      '',
      (message) => {
        const p = this.handle(message).finally(() => this.#pending.delete(p));
        this.#pending.add(p);
      },
      { queue: names.nodeQueue(this.#o.hostname) },
    );
  }

  /** Handles one request message (exposed for tests). Never throws. */
  async handle(message: WireMessage): Promise<void> {
    const { clock, hostname, logger } = this.#o;
    // Clients seldom have a useful clock: move ours on for every request, as Celery does.
    clock.forward();
    let request: ControlRequest;
    try {
      const body = deserialize(message.body, message.contentType, message.contentEncoding, ACCEPT);
      request = decodeControlRequest(body);
    } catch (error) {
      logger.error(`Cannot decode a remote control message: ${(error as Error).message}`);
      return;
    }
    clock.adjust(clockHeader(message.headers));
    if (!requestIsFor(request, hostname)) return;
    logger.debug(`pidbox received method ${request.method}`);
    let reply: unknown;
    const handler = this.#o.handlers.get(request.method);
    try {
      if (!handler) throw new PyError('KeyError', request.method);
      reply = await handler(request.arguments);
    } catch (error) {
      if (error instanceof PyError && error.pyType === 'KeyError' && !handler) {
        logger.error(`No such control command: ${request.method}`);
      } else logger.error(`Control command error: ${(error as Error).message}`, error);
      reply = { error: errorRepr(error) };
    }
    if (reply === NO_REPLY || !request.replyTo) return;
    await this.#reply(request, reply);
  }

  async #reply(request: ControlRequest, reply: unknown): Promise<void> {
    const { transport, hostname, clock, logger } = this.#o;
    const replyTo = request.replyTo;
    if (!replyTo) return;
    try {
      const s = serialize(encodeReply(hostname, reply), 'json');
      await transport.publish(
        {
          body: s.body,
          contentType: s.contentType,
          contentEncoding: s.contentEncoding,
          headers: replyHeaders(request.ticket, clock.forward()),
          properties: { deliveryMode: 1 },
        },
        { exchange: replyTo.exchange, routingKey: replyTo.routingKey },
      );
    } catch (error) {
      logger.error(`Could not send the reply to '${request.method}': ${(error as Error).message}`);
    }
  }

  /** Stops listening; waits for requests being handled. */
  async close(): Promise<void> {
    const sub = this.#subscription;
    this.#subscription = undefined;
    await sub?.close();
    await Promise.allSettled([...this.#pending]);
  }
}

/** Python's repr of a raised error: PyErrors as they are, others as `Exception('...')`. */
function errorRepr(error: unknown): string {
  if (error instanceof PyError) return error.repr;
  if (error instanceof RangeError || error instanceof TypeError) {
    return `${error instanceof RangeError ? 'ValueError' : 'TypeError'}(${pyRepr(error.message)})`;
  }
  if (error instanceof Error) return `Exception(${pyRepr(error.message)})`;
  return `Exception(${pyRepr(String(error))})`;
}
