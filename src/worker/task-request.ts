/** Builds the request a running task sees from its decoded message and delivery. */
import type { TaskRequest } from '../app/task-types.js';
import { toPythonIso } from '../protocol/time.js';
import type { TaskMessage } from '../protocol/types.js';
import type { Delivery } from '../transport/types.js';

/** The `ctx.request` of a task run by a worker. */
export function taskRequest(
  message: TaskMessage,
  delivery: Delivery,
  hostname: string,
): TaskRequest {
  return {
    id: message.id,
    task: message.task,
    args: message.args,
    kwargs: message.kwargs,
    retries: message.retries,
    hostname,
    deliveryInfo: {
      exchange: delivery.exchange,
      routingKey: delivery.routingKey,
      priority: message.priority,
      redelivered: delivery.redelivered,
    },
    eta: message.eta === null ? null : toPythonIso(message.eta),
    expires: message.expires === null ? null : toPythonIso(message.expires),
    parentId: message.parentId,
    rootId: message.rootId,
    group: message.group,
    groupIndex: message.groupIndex,
    correlationId: message.correlationId,
    replyTo: message.replyTo,
    origin: message.origin,
    isEager: false,
    timeLimit: message.timeLimit,
    ignoreResult: message.ignoreResult,
    headers: message.extraHeaders,
    chain: message.embed.chain,
    callbacks: message.embed.callbacks,
    errbacks: message.embed.errbacks,
    chord: message.embed.chord,
  };
}
