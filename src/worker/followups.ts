/**
 * Messages a worker sends because of a task's outcome: link callbacks and the chain's next
 * step on success, errbacks on failure, the retry message (spec §f.2, §f.3, §d.3), and,
 * once the final state is stored, the chord join and the failure of the rest of a chain.
 *
 * Callbacks, chain steps and errbacks may be any canvas (a group, a chord, a chain): they
 * are applied with the same planner clients use, so we send what a Python worker sends.
 */
import { applyChild, type ParentContext } from '../app/canvas-apply.js';
import type { Celery } from '../app/celery.js';
import type { ResultBackend } from '../backend/types.js';
import { groupData } from '../canvas/compose.js';
import { exceptionInfoFromError } from '../protocol/exception.js';
import { signatureToWire } from '../protocol/signature.js';
import { encodeTaskMessage } from '../protocol/task-message.js';
import type { ResultTuple, SignatureData, TaskMessage, TaskMeta } from '../protocol/types.js';
import { chordPartReturned, failChainSteps } from './chord.js';

/** A child result tuple as Celery lists it in `children` (spec §d.2). */
export type ChildTuple = ResultTuple;

/** The running task as the parent of what it sends (Celery's current_worker_task). */
export function parentOf(message: TaskMessage): ParentContext {
  return { parentId: message.id, rootId: message.rootId ?? message.id };
}

/**
 * On success: the link callbacks (one is applied alone; several are applied as a group, each
 * group callback on its own, as Python does), then the chain's next step with the rest of the
 * chain. Returns the results started, for the meta's `children`.
 */
export async function sendSuccessFollowups(
  app: Celery,
  message: TaskMessage,
  retval: unknown,
): Promise<ChildTuple[]> {
  const parent = parentOf(message);
  const ids = { parent_id: parent.parentId, root_id: parent.rootId };
  const children: ChildTuple[] = [];
  const add = (t: ResultTuple | null): void => {
    if (t) children.push(t);
  };
  const callbacks = message.embed.callbacks ?? [];
  if (callbacks.length === 1) {
    add(await applyChild(app, callbacks[0] as SignatureData, [retval], ids, parent));
  } else if (callbacks.length > 1) {
    const groups = callbacks.filter((c) => c.subtaskType === 'group');
    const tasks = callbacks.filter((c) => c.subtaskType !== 'group');
    for (const g of groups) add(await applyChild(app, g, [retval], ids, parent));
    if (tasks.length > 0) add(await applyChild(app, groupData(tasks), [retval], ids, parent));
  }
  const chain = message.embed.chain;
  if (chain && chain.length > 0) {
    const next = chain[chain.length - 1] as SignatureData;
    const rest = chain.slice(0, -1).map((s) => signatureToWire(s));
    add(await applyChild(app, next, [retval], { ...ids, chain: rest }, parent));
  }
  return children;
}

/**
 * On failure: the errbacks, with the failed task's id as their only argument (old-style
 * errbacks, spec §f.2), applied as a group (so each carries a fresh group id, as Python's do).
 */
export async function sendErrbacks(app: Celery, message: TaskMessage): Promise<void> {
  const errbacks = message.embed.errbacks ?? [];
  if (errbacks.length === 0) return;
  const parent = parentOf(message);
  const ids = { parent_id: parent.parentId, root_id: parent.rootId };
  await applyChild(app, groupData(errbacks), [message.id], ids, parent);
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
 * After a task's final state is stored (or would have been: `meta` is null when the result
 * is ignored): a chord header task counts itself in and the last one runs the body, or fails
 * it with a ChordError (spec §f.5); a failed chain step fails the rest of its chain, as
 * Python's `mark_as_failure` does, so nothing waits forever on a step that will not run.
 * `value` is the return value, or the error for a failure.
 */
export async function afterFinalState(
  app: Celery,
  backend: ResultBackend | null,
  message: TaskMessage,
  meta: TaskMeta | null,
  value: unknown,
): Promise<void> {
  if (!backend) return;
  const state = meta?.status ?? (value instanceof Error ? 'FAILURE' : 'SUCCESS');
  const result = meta ? meta.result : state === 'FAILURE' ? exceptionInfoFromError(value) : value;
  const parent = parentOf(message);
  if (message.embed.chord && message.group) {
    await chordPartReturned(
      app,
      backend,
      {
        taskId: message.id,
        groupId: message.group,
        groupIndex: message.groupIndex,
        body: message.embed.chord,
      },
      { status: state, result },
      parent,
    );
  }
  if (meta?.status === 'FAILURE' && message.embed.chain && message.embed.chain.length > 0) {
    await failChainSteps(app, backend, message.embed.chain, meta, parent);
  }
}
