/**
 * `ctx.replace(sig)` (Celery's `Task.replace`): the running task is replaced by a signature
 * or canvas that inherits its id, callbacks, errbacks, chord membership and the rest of its
 * chain; the replaced run ends with Ignore, so it stores nothing (the replacement stores the
 * result under the same id).
 */
import {
  addLink,
  chainOf,
  chordData,
  fromWire,
  listOption,
  membersOf,
  toWire,
} from '../canvas/compose.js';
import type { AnySignature } from '../canvas/signature.js';
import { ArgumentsError, Ignore } from '../errors.js';
import type { SignatureData } from '../protocol/types.js';
import { executePlan, planCanvas } from './canvas-apply.js';
import { applyEager } from './canvas-eager.js';
import type { Celery } from './celery.js';
import type { TaskRequest } from './task-types.js';

/** Celery's builtin that returns one of its arguments: the body of a group replacement. */
export const ACCUMULATE = 'celery.accumulate';

/**
 * Sends the replacement of the task `request` describes, then rejects with Ignore. In an
 * eager run (`task.apply()`, `taskAlwaysEager`) the replacement runs here and its result is
 * returned, as Celery's `sig.apply().get()`.
 * @throws ArgumentsError for a replacement that is part of a chord, or an empty chain.
 */
export async function replaceTask(
  app: Celery,
  request: TaskRequest,
  sig: AnySignature,
): Promise<unknown> {
  let data = replacementOf(sig.toData(), request);
  for (const step of [...(request.chain ?? [])].reverse()) data = chainOf([data, step]);
  if (request.isEager) return (await applyEager(app, data, [], {})).get();
  const plan = planCanvas(app, data, [], {}, {});
  await executePlan(app, plan, { parentId: request.id, rootId: request.rootId ?? request.id });
  throw new Ignore('Replaced by new task');
}

/** The replacement as Celery builds it, before the rest of the chain is appended. */
export function replacementOf(original: SignatureData, request: TaskRequest): SignatureData {
  if ('chord' in original.options) {
    throw new ArgumentsError('A signature replacing a task must not be part of a chord', {
      hint: 'replace with the chord itself, not with one of its header tasks',
    });
  }
  if (original.subtaskType === 'chain' && membersOf(original).length === 0) {
    throw new ArgumentsError('Cannot replace with an empty chain', {
      hint: 'give the chain a task',
    });
  }
  let data = original;
  if (data.subtaskType === 'group') {
    // A group becomes a chord so callbacks can follow it: its result is the list of results.
    const accumulate: SignatureData = {
      task: ACCUMULATE,
      args: [],
      kwargs: { index: 0 },
      options: {},
      subtaskType: null,
      immutable: false,
    };
    data = chordData(data, accumulate);
  }
  for (const cb of request.callbacks ?? []) data = addLink(data, cb, 'link');
  for (const eb of request.errbacks ?? []) data = addLink(data, eb, 'link_error');
  if (data.subtaskType === 'chain' && 'link' in data.options) data = pushLinksDown(data);
  data = withId(data, request.id);
  const options: Record<string, unknown> = { ...data.options };
  if (request.chord) options['chord'] = toWire(request.chord);
  if (request.group) options['group_id'] = request.group;
  if (request.groupIndex !== null) options['group_index'] = request.groupIndex;
  if (request.rootId) options['root_id'] = request.rootId;
  return { ...data, options };
}

/** A chain's links go to its last task, so they run after the whole chain. */
function pushLinksDown(chain: SignatureData): SignatureData {
  const members = membersOf(chain);
  const last = members[members.length - 1];
  if (!last) return chain;
  const links = listOption(chain.options['link']);
  const lastWithLinks = links.reduce<SignatureData>(
    (s, l) => addLink(s, fromWire(l), 'link'),
    last,
  );
  const options = { ...chain.options };
  delete options['link'];
  return {
    ...chain,
    options,
    kwargs: { ...chain.kwargs, tasks: [...members.slice(0, -1), lastWithLinks].map(toWire) },
  };
}

/** Gives the task that produces the canvas's result the id `id` (Celery's `freeze(id)`). */
function withId(data: SignatureData, id: string): SignatureData {
  if (data.subtaskType === 'chain') {
    const members = membersOf(data);
    const last = members[members.length - 1];
    if (!last) return data;
    const tasks = [...members.slice(0, -1), withId(last, id)].map(toWire);
    return { ...data, kwargs: { ...data.kwargs, tasks } };
  }
  if (data.subtaskType === 'chord') {
    const body = data.kwargs['body'];
    if (!body) return data;
    return { ...data, kwargs: { ...data.kwargs, body: toWire(withId(fromWire(body), id)) } };
  }
  if (typeof data.options['task_id'] === 'string') return data;
  return { ...data, options: { ...data.options, task_id: id } };
}
