/**
 * Messages a worker sends because of a task's outcome: link callbacks and the chain's next
 * step on success, errbacks on failure, and the retry message (spec §f.2, §f.3, §d.3).
 */
import type { Celery } from '../app/celery.js';
import { applyOptionsFromSignature } from '../app/signature-apply.js';
import { encodeTaskMessage } from '../protocol/task-message.js';
import type { ResultBackend } from '../backend/types.js';
import type { SignatureData, TaskMessage, TaskMeta } from '../protocol/types.js';
import { uuid } from '../util/ids.js';

/** A child result tuple as Celery lists it in `children`: [[id, null], null]. */
export type ChildTuple = [[string, null], null];

/** Sends a signature as a child of `parent`. Resolves with the child's id. */
export async function sendSignature(
  app: Celery,
  sig: SignatureData,
  args: unknown[],
  parent: TaskMessage,
  extra: { groupId?: string | null; chain?: SignatureData[] | null } = {},
): Promise<string> {
  const options = applyOptionsFromSignature(sig.options);
  const def = app.tasks.get(sig.task);
  const built = app.producer.build(sig.task, def?.options ?? {}, args, sig.kwargs, {
    ...options,
    parentId: parent.id,
    rootId: parent.rootId ?? parent.id,
    groupId:
      extra.groupId ?? (typeof sig.options.group_id === 'string' ? sig.options.group_id : null),
  });
  if (extra.chain !== undefined) built.message.embed.chain = extra.chain;
  if (sig.options.chord && typeof sig.options.chord === 'object') {
    built.message.embed.chord = sig.options.chord as SignatureData;
  }
  const wire = encodeTaskMessage(built.message, {
    serializer: built.serializer,
    compression: built.compression,
  });
  await app.producer.publish(wire, built, {}, built.message.priority);
  return built.message.id;
}

/** On success: link callbacks, then the next chain step. Returns the children sent. */
export async function sendSuccessFollowups(
  app: Celery,
  message: TaskMessage,
  retval: unknown,
): Promise<ChildTuple[]> {
  const children: ChildTuple[] = [];
  for (const callback of message.embed.callbacks ?? []) {
    const args = callback.immutable ? [...callback.args] : [retval, ...callback.args];
    children.push([[await sendSignature(app, callback, args, message), null], null]);
  }
  const chain = message.embed.chain;
  if (chain && chain.length > 0) {
    const rest = chain.slice(0, -1);
    const next = chain[chain.length - 1] as SignatureData;
    const args = next.immutable ? [...next.args] : [retval, ...next.args];
    children.push([[await sendSignature(app, next, args, message, { chain: rest }), null], null]);
  }
  return children;
}

/** On failure: errbacks get the failed task's id (old-style errbacks, spec §f.2). */
export async function sendErrbacks(app: Celery, message: TaskMessage): Promise<void> {
  const errbacks = message.embed.errbacks ?? [];
  if (errbacks.length === 0) return;
  const groupId = uuid();
  for (const errback of errbacks) {
    await sendSignature(app, errback, [message.id, ...errback.args], message, { groupId });
  }
}

/**
 * The retry message: same id, retries + 1, a new eta; parent_id is the task's own id as
 * Python sends it (spec §12.13). Published to the queue the task came from.
 */
export async function sendRetry(
  app: Celery,
  message: TaskMessage,
  queue: string,
  countdown: number,
  overrides: { args?: unknown[] | undefined; kwargs?: Record<string, unknown> | undefined },
): Promise<void> {
  const eta = app.now() + countdown * 1000;
  const retry: TaskMessage = {
    ...message,
    args: overrides.args ?? message.args,
    kwargs: overrides.kwargs ?? message.kwargs,
    retries: message.retries + 1,
    eta,
    parentId: message.id,
  };
  const wire = encodeTaskMessage(retry, { serializer: app.conf.taskSerializer });
  await app.producer.publish(
    wire,
    { queue, exchange: '', routingKey: queue, bindExchange: app.conf.taskDefaultExchange },
    {},
    message.priority,
  );
}

/**
 * After a task's final state is stored: the chord step (a header task counts itself in and
 * the last one fires the body). Canvas support fills this in; until then chords sent by
 * Python clients are not joined by celeriac workers.
 */
export async function afterFinalState(
  _app: Celery,
  _backend: ResultBackend | null,
  _message: TaskMessage,
  _meta: TaskMeta | null,
  _value: unknown,
): Promise<void> {}
