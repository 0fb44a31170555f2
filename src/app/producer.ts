/**
 * The producer: turns a call (task, args, kwargs, options) into a protocol-2 task message
 * and publishes it. Encoding happens before anything is sent, so arguments the serializer
 * cannot carry fail the call and nothing reaches the broker.
 */
import { ConnectionError } from '../errors.js';
import { encodeTaskMessage, newTaskMessage } from '../protocol/task-message.js';
import type { SignatureData, TaskMessage, WireMessage } from '../protocol/types.js';
import type { Transport } from '../transport/types.js';
import { delay } from '../util/abort.js';
import { toEpochMs } from '../util/duration.js';
import { uuid } from '../util/ids.js';
import type { Signature } from '../canvas/signature.js';
import type { Settings } from './settings.js';
import type { ApplyOptions, ResolvedTaskOptions } from './task-types.js';
import { resolveRoute, type Route } from './routing.js';

/** What the producer needs from its app. */
export interface ProducerHost {
  readonly conf: Settings;
  /** The connected transport. */
  connection(): Promise<Transport>;
  /** This client's node name (`gen<pid>@host`). */
  readonly origin: string;
  /** A stable per-process id sent as reply_to (spec §0.1). */
  readonly oid: string;
  now(): number;
  /** Told about every task sent by send() (the app sends task-sent events from it). */
  onTaskSent?(message: TaskMessage, route: Route): void;
}

/** Builds, encodes and publishes task messages. */
export class Producer {
  readonly #host: ProducerHost;
  readonly #declared = new Set<string>();

  constructor(host: ProducerHost) {
    this.#host = host;
  }

  /** Builds the message for a call (no I/O). */
  build(
    name: string,
    taskOptions: Partial<ResolvedTaskOptions>,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options: ApplyOptions,
  ): Route & { message: TaskMessage; serializer: string; compression: string | undefined } {
    const conf = this.#host.conf;
    const now = this.#host.now();
    const id = options.taskId ?? uuid();
    const eta =
      options.eta !== undefined
        ? typeof options.eta === 'number'
          ? options.eta
          : toEpochMs(options.eta, now)
        : options.countdown !== undefined
          ? now + options.countdown * 1000
          : null;
    const expiresOpt = options.expires ?? taskOptions.expires;
    const expires = expiresOpt === undefined ? null : toEpochMs(expiresOpt, now);
    const route = resolveRoute(conf, name, taskOptions.queue, options);
    const message = newTaskMessage({
      id,
      task: name,
      args: [...args],
      kwargs,
      eta,
      expires,
      rootId: options.rootId ?? id,
      parentId: options.parentId ?? null,
      group: options.groupId ?? null,
      groupIndex: options.groupIndex ?? null,
      timeLimit: [
        options.timeLimit ?? taskOptions.timeLimit ?? conf.taskTimeLimit ?? null,
        options.softTimeLimit ?? taskOptions.softTimeLimit ?? conf.taskSoftTimeLimit ?? null,
      ],
      shadow: options.shadow ?? taskOptions.shadow ?? null,
      origin: this.#host.origin,
      ignoreResult: options.ignoreResult ?? taskOptions.ignoreResult ?? conf.taskIgnoreResult,
      replyTo: this.#host.oid,
      correlationId: id,
      priority: options.priority ?? taskOptions.priority ?? conf.taskDefaultPriority ?? null,
      extraHeaders: options.headers ?? {},
      embed: {
        callbacks: toSignatureList(options.link),
        errbacks: toSignatureList(options.linkError),
        chain: null,
        chord: null,
      },
    });
    return {
      message,
      ...route,
      serializer: options.serializer ?? taskOptions.serializer ?? conf.taskSerializer,
      compression: options.compression ?? conf.taskCompression ?? undefined,
    };
  }

  /** Encodes and publishes; resolves with the task id. */
  async send(
    name: string,
    taskOptions: Partial<ResolvedTaskOptions>,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options: ApplyOptions,
  ): Promise<string> {
    const built = this.build(name, taskOptions, args, kwargs, options);
    const wire = encodeTaskMessage(built.message, {
      serializer: built.serializer,
      compression: built.compression,
    });
    await this.publish(wire, built, options, built.message.priority);
    this.#host.onTaskSent?.(built.message, built);
    return built.message.id;
  }

  /** Publishes an encoded message, retrying connection failures by the publish retry policy. */
  async publish(
    wire: WireMessage,
    route: Route,
    options: Pick<ApplyOptions, 'retry' | 'retryPolicy'> = {},
    priority: number | null = null,
  ): Promise<void> {
    const conf = this.#host.conf;
    const policy = {
      ...(conf.taskPublishRetryPolicy as Record<string, number>),
      ...(options.retryPolicy ?? {}),
    };
    const retry = options.retry ?? conf.taskPublishRetry;
    const maxRetries = retry ? (policy.maxRetries ?? 3) : 0;
    for (let attempt = 0; ; attempt++) {
      try {
        const transport = await this.#host.connection();
        if (!this.#declared.has(route.queue)) {
          await transport.declare({
            name: route.queue,
            exchange: route.bindExchange,
            routingKey: route.queue,
          });
          this.#declared.add(route.queue);
        }
        await transport.publish(
          wire,
          { exchange: route.exchange, routingKey: route.routingKey },
          {
            priority: priority ?? undefined,
          },
        );
        return;
      } catch (error) {
        if (!(error instanceof ConnectionError) || attempt >= maxRetries) throw error;
        const wait = Math.min(
          policy.intervalMax ?? 0.2,
          (policy.intervalStart ?? 0) + attempt * (policy.intervalStep ?? 0.2),
        );
        await delay(wait * 1000);
      }
    }
  }
}

function toSignatureList(value: Signature | Signature[] | undefined): SignatureData[] | null {
  if (value === undefined) return null;
  const list = Array.isArray(value) ? value : [value];
  return list.map((sig) => sig.toData());
}
