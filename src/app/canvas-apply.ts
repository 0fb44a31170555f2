/**
 * Applying canvases: the planner (canvas/plan) decides what to send, in which order; this
 * module does it: chord sizes go to the result backend, messages through the producer with
 * their workflow fields (group, group_index, root_id, parent_id) and embed (callbacks,
 * errbacks, chain, chord) as Celery sends them (spec §f).
 */
import { planApply, type Plan, type SendStep } from '../canvas/plan/planner.js';
import { resultTuple } from '../canvas/plan/results.js';
import { ArgumentsError, CeleriacError } from '../errors.js';
import { signatureFromWire } from '../protocol/signature.js';
import { encodeTaskMessage } from '../protocol/task-message.js';
import type { ResultTuple, SignatureData } from '../protocol/types.js';
import { uuid } from '../util/ids.js';
import type { ResultLike } from './async-result.js';
import type { Celery } from './celery.js';
import { resultFromNode } from './group-result.js';
import { applyOptionsFromSignature } from './signature-apply.js';

/** The task a canvas is applied from (a worker's running task): its children's parent. */
export interface ParentContext {
  parentId: string;
  rootId: string;
}

/**
 * Applies a canvas (any signature, in dict form) with partial args, kwargs and wire options,
 * and returns the handle of its result (AsyncResult, or GroupResult for a group).
 * Inside a running task the messages get it as parent, as Celery does.
 * @throws ArgumentsError for an empty chain or a misused canvas.
 */
export async function applyCanvas(
  app: Celery,
  canvas: SignatureData,
  args: readonly unknown[],
  kwargs: Record<string, unknown>,
  options: Record<string, unknown>,
  parent: ParentContext | null = currentParent(app),
): Promise<ResultLike> {
  const plan = planCanvas(app, canvas, args, kwargs, options);
  await executePlan(app, plan, parent);
  if (!plan.result) {
    throw new ArgumentsError('Cannot apply an empty chain', {
      hint: 'give the chain at least one task',
    });
  }
  return resultFromNode(plan.result, app);
}

/**
 * Applies a signature (any canvas) as a child of `parent` (a worker's running task) with
 * `args` prepended and wire `options`; resolves with the result tuple of what it started
 * (for the parent's `children`).
 */
export async function applyChild(
  app: Celery,
  sig: SignatureData,
  args: unknown[],
  options: Record<string, unknown>,
  parent: ParentContext,
): Promise<ResultTuple | null> {
  const plan = planCanvas(app, sig, args, {}, options);
  await executePlan(app, plan, parent);
  return plan.result ? resultTuple(plan.result) : null;
}

/** The plan for applying a canvas (no I/O). */
export function planCanvas(
  app: Celery,
  canvas: SignatureData,
  args: readonly unknown[],
  kwargs: Record<string, unknown>,
  options: Record<string, unknown>,
): Plan {
  return planApply(canvas, args, kwargs, options, { newId: uuid, replyTo: app.oid });
}

/** How many messages of a plan are published at once. */
const PUBLISH_BATCH = 64;

/**
 * Carries out a plan in order. Messages between two chord sizes are independent (group
 * members, a chord's header tasks), so they are published concurrently, in batches; a chord
 * size is stored only once every message before it is out, and before the messages after it
 * (the last header task), as Celery orders them.
 */
export async function executePlan(
  app: Celery,
  plan: Plan,
  parent: ParentContext | null,
): Promise<void> {
  if (plan.steps.some((s) => s.kind === 'chord-size')) await chordBackend(app);
  let batch: SendStep[] = [];
  const flush = async (): Promise<void> => {
    for (let i = 0; i < batch.length; i += PUBLISH_BATCH) {
      await Promise.all(batch.slice(i, i + PUBLISH_BATCH).map((s) => sendPlanned(app, s, parent)));
    }
    batch = [];
  };
  for (const step of plan.steps) {
    if (step.kind === 'send') {
      batch.push(step);
      continue;
    }
    await flush();
    const backend = await app.backend();
    await backend.setChordSize(step.groupId, step.size, { expires: app.conf.resultExpires });
  }
  await flush();
}

/** The result backend a chord joins in; checked before any of its messages is sent. */
async function chordBackend(app: Celery): Promise<void> {
  try {
    await app.backend();
  } catch (error) {
    if (error instanceof CeleriacError && error.code === 'NO_BACKEND') {
      throw new CeleriacError('NO_BACKEND', 'A chord needs a result backend to join its header', {
        cause: error,
        hint: "set resultBackend (e.g. 'redis://localhost:6379/0'), or use a group and a callback",
      });
    }
    throw error;
  }
}

/** Publishes one planned message. */
export async function sendPlanned(
  app: Celery,
  step: SendStep,
  parent: ParentContext | null,
): Promise<void> {
  const o = step.options;
  const options = applyOptionsFromSignature(o);
  const def = app.tasks.get(step.task);
  const built = app.producer.build(step.task, def?.options ?? {}, step.args, step.kwargs, {
    ...options,
    parentId: str(o['parent_id']) ?? parent?.parentId ?? null,
    rootId: str(o['root_id']) ?? parent?.rootId ?? null,
    groupId: str(o['group_id']),
    groupIndex: typeof o['group_index'] === 'number' ? o['group_index'] : null,
  });
  const embed = built.message.embed;
  embed.callbacks = signatureList(o['link']);
  embed.errbacks = signatureList(o['link_error']);
  embed.chain = Array.isArray(o['chain']) ? o['chain'].map((s) => signatureFromWire(s)) : null;
  embed.chord = o['chord'] ? signatureFromWire(o['chord']) : null;
  const wire = encodeTaskMessage(built.message, {
    serializer: built.serializer,
    compression: built.compression,
  });
  await app.producer.publish(wire, built, options, built.message.priority);
}

/** The running task of this app (when called from inside one), as the parent of what it sends. */
export function currentParent(app: Celery): ParentContext | null {
  const request = app.contextStorage.getStore()?.request;
  if (!request || request.isEager) return null;
  return { parentId: request.id, rootId: request.rootId ?? request.id };
}

function signatureList(value: unknown): SignatureData[] | null {
  if (value === undefined || value === null) return null;
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  return list.map((v) => signatureFromWire(v));
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}
