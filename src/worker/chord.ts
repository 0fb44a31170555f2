/**
 * The chord join, run by whichever worker (Python or celeriac) stores a header task's final
 * state (spec §f.5): the part is recorded atomically in the result backend, and the one
 * worker told "complete" either sends the body with the header's results in order, or, when
 * a header task failed, stores FAILURE with a ChordError on the body's id and sends the
 * body's errbacks. Nothing is left waiting: a failure also fails what would have followed
 * (the rest of a chain, an enclosing chord), so every result a client waits on gets a state.
 */
import { applyChild, type ParentContext } from '../app/canvas-apply.js';
import type { Celery } from '../app/celery.js';
import type { ResultBackend } from '../backend/types.js';
import { fromWire, groupData, listOption, membersOf } from '../canvas/compose.js';
import { ChordError, toError } from '../errors.js';
import { exceptionInfoFromError, exceptionRepr } from '../protocol/exception.js';
import { pyRepr } from '../protocol/repr.js';
import { PROPAGATE_STATES } from '../protocol/states.js';
import { toNaiveUtcIso } from '../protocol/time.js';
import type { ExceptionInfo, SignatureData, State, TaskMeta } from '../protocol/types.js';

/** A header task of a chord, as its message (or a chain step's options) describes it. */
export interface ChordPart {
  taskId: string | null;
  groupId: string | null;
  groupIndex: number | null;
  /** The chord's body (the `chord` embed / option). */
  body: SignatureData;
}

/**
 * Records a header task's final state; if it completed the chord, runs the body (or fails
 * it). `outcome.result` is the value, or exception info for FAILURE / REVOKED.
 */
export async function chordPartReturned(
  app: Celery,
  backend: ResultBackend,
  part: ChordPart,
  outcome: { status: State; result: unknown },
  parent: ParentContext,
): Promise<void> {
  if (!part.groupId || !part.taskId) return;
  const meta: TaskMeta = {
    taskId: part.taskId,
    status: outcome.status,
    result: outcome.result,
    traceback: null,
    children: [],
    dateDone: null,
  };
  const join = await backend.chordPartCompleted(part.groupId, part.groupIndex, meta, {
    expires: app.conf.resultExpires,
  });
  if (!join.complete) return;
  const members = join.members ?? [];
  const failed = members.find((m) => PROPAGATE_STATES.has(m.status));
  if (failed) {
    // Python leaves the chord's keys in place in this case (worker_chord_failure).
    const error = new ChordError(`Dependency ${failed.taskId} raised ${reprOf(failed.result)}`);
    await failChord(app, backend, part.body, error, parent);
    return;
  }
  try {
    await applyChild(app, part.body, [members.map((m) => m.result)], {}, parent);
  } catch (err) {
    const info = exceptionInfoFromError(toError(err));
    await failChord(
      app,
      backend,
      part.body,
      new ChordError(`Callback error: ${exceptionRepr(info)}`),
      parent,
    );
  } finally {
    await backend.chordCleanup(part.groupId);
  }
}

/**
 * The chord body will not run: its errbacks get the body's id, then FAILURE with `error` is
 * stored on the body (Celery's `chord_error_from_stack`), and on whatever the body would
 * have started (its chain, its own parts), so no client waits forever.
 */
export async function failChord(
  app: Celery,
  backend: ResultBackend,
  body: SignatureData,
  error: Error,
  parent: ParentContext,
): Promise<void> {
  const bodyId = resultIdOf(body);
  const errbacks = listOption(body.options['link_error']).map(fromWire);
  let failure = error;
  if (errbacks.length > 0 && bodyId) {
    try {
      const ids = { parentId: bodyId, rootId: bodyId };
      await applyChild(
        app,
        groupData(errbacks),
        [bodyId],
        { parent_id: bodyId, root_id: bodyId },
        ids,
      );
    } catch (err) {
      failure = toError(err);
    }
  }
  const info = exceptionInfoFromError(failure);
  const traceback = failure.stack ?? `${failure.name}: ${failure.message}`;
  await markFailed(app, backend, body, info, traceback, parent, { top: true });
}

/**
 * Python's `mark_as_failure` walk over `request.chain`: every remaining step with a task id
 * is stored FAILURE with the same error, and a step that is a chord header task counts in.
 */
export async function failChainSteps(
  app: Celery,
  backend: ResultBackend,
  chain: readonly SignatureData[],
  meta: TaskMeta,
  parent: ParentContext,
): Promise<void> {
  for (const step of chain) {
    await markFailed(app, backend, step, meta.result, meta.traceback, parent, { top: false });
  }
}

async function markFailed(
  app: Celery,
  backend: ResultBackend,
  sig: SignatureData,
  result: unknown,
  traceback: string | null,
  parent: ParentContext,
  how: { top: boolean },
): Promise<void> {
  switch (sig.subtaskType) {
    case 'chain':
    case 'group':
      for (const m of membersOf(sig))
        await markFailed(app, backend, m, result, traceback, parent, how);
      return;
    case 'chord': {
      const body = sig.kwargs['body'];
      if (body) await markFailed(app, backend, fromWire(body), result, traceback, parent, how);
      return;
    }
    case 'chunks':
    case 'xmap':
    case 'xstarmap':
    case null:
      break;
  }
  const o = sig.options;
  const taskId = str(o['task_id']);
  if (taskId) {
    const meta: TaskMeta = {
      taskId,
      status: 'FAILURE',
      result,
      traceback,
      children: [],
      dateDone: toNaiveUtcIso(app.now()),
    };
    // A chord body failed by the join is stored bare, as Python stores it.
    if (!how.top) {
      const groupId = str(o['group_id']);
      const parentId = str(o['parent_id']);
      if (groupId) meta.groupId = groupId;
      if (parentId) meta.parentId = parentId;
    }
    await backend.store(meta, { expires: app.conf.resultExpires });
  }
  const chord = o['chord'];
  if (chord && typeof chord === 'object') {
    const part: ChordPart = {
      taskId,
      groupId: str(o['group_id']),
      groupIndex: typeof o['group_index'] === 'number' ? o['group_index'] : null,
      body: fromWire(chord),
    };
    await chordPartReturned(app, backend, part, { status: 'FAILURE', result }, parent);
  }
  const chain = o['chain'];
  if (how.top && Array.isArray(chain)) {
    for (const step of chain) {
      await markFailed(app, backend, fromWire(step), result, traceback, parent, { top: false });
    }
  }
}

/** The id a client waits on for a canvas: a task's own, a chain's last step's, a chord's body's. */
function resultIdOf(sig: SignatureData): string | null {
  if (sig.subtaskType === 'chain') {
    const members = membersOf(sig);
    const last = members[members.length - 1];
    return last ? resultIdOf(last) : null;
  }
  if (sig.subtaskType === 'chord') {
    const body = sig.kwargs['body'];
    return body ? resultIdOf(fromWire(body)) : null;
  }
  return str(sig.options['task_id']);
}

function reprOf(result: unknown): string {
  return isExceptionInfo(result) ? exceptionRepr(result) : pyRepr(result);
}

function isExceptionInfo(v: unknown): v is ExceptionInfo {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o['excType'] === 'string' && Array.isArray(o['excMessage']);
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}
