/**
 * What applying a canvas sends, decided without I/O: a port of Celery 5.2.6's
 * `canvas.py` apply logic (`Signature.apply_async`, `_chain.run`, `group.apply_async` /
 * `_apply_tasks`, `_chord.run`; freezing is in freeze.ts), so that we send what Python
 * sends: the same messages in the same order, ids pre-assigned the same way, the chord size
 * set just before the last header task, `embed.chain` reversed.
 *
 * Clients and workers use the same planner: a chain's next step, a callback or a chord body
 * that is itself a group or chord is applied here, whoever applies it.
 */
import { ArgumentsError } from '../../errors.js';
import type { SignatureData } from '../../protocol/types.js';
import { Freezer } from './freeze.js';
import {
  cloneNode,
  groupNode,
  parseNode,
  parseWire,
  serializeOptions,
  type SigNode,
} from './node.js';
import {
  chunksGroup,
  cloneWith,
  descend,
  dropNulls,
  extendListOption,
  isEmpty,
  merge,
  num,
  str,
  type Opts,
} from './ops.js';
import { groupResult, linkRoot, taskResult, type ResultNode } from './results.js';
import type { Plan, PlanContext } from './types.js';

export type { ChordSizeStep, Plan, PlanContext, PlanStep, SendStep } from './types.js';
export { descend } from './ops.js';

/** Plans `sig.apply_async(args, kwargs, **options)`. */
export function planApply(
  sig: SignatureData,
  args: readonly unknown[],
  kwargs: Record<string, unknown>,
  options: Opts,
  ctx: PlanContext,
): Plan {
  const planner = new Planner(ctx);
  const result = planner.apply(parseNode(sig), [...args], kwargs, options);
  return { steps: planner.steps, result };
}

/** Applies nodes: plans the messages (and chord sizes) Celery would send. */
class Planner extends Freezer {
  apply(node: SigNode, args: unknown[], kwargs: Opts, options: Opts): ResultNode | null {
    const opts = dropNulls(options);
    switch (node.kind) {
      case 'chain':
        return this.applyChain(node, args, kwargs, opts);
      case 'group':
        return this.applyGroup(node, args, kwargs, opts);
      case 'chord':
        return this.applyChord(node, args, opts);
      case 'task':
        if (node.subtaskType === 'chunks')
          return this.applyGroup(chunksGroup(node), args, kwargs, opts);
        if (node.subtaskType === 'xmap' || node.subtaskType === 'xstarmap') {
          return this.send(
            node,
            [],
            { task: node.kwargs['task'], it: node.kwargs['it'] },
            { ...node.options, ...opts },
          );
        }
        return this.applyTask(node, args, kwargs, opts);
    }
  }

  // ---- Signature ----------------------------------------------------------------------

  applyTask(node: SigNode, args: unknown[], kwargs: Opts, options: Opts): ResultNode {
    if (args.length === 0 && isEmpty(kwargs) && isEmpty(options)) {
      return this.send(node, node.args, node.kwargs, node.options);
    }
    const [a, k, o] = merge(node, args, kwargs, options);
    return this.send(node, a, k, o);
  }

  send(node: SigNode, args: unknown[], kwargs: Opts, options: Opts): ResultNode {
    const id = str(options['task_id']) ?? this.ctx.newId();
    const opts = serializeOptions(dropNulls({ ...options, task_id: id }));
    this.steps.push({
      kind: 'send',
      task: node.task,
      args: [...args],
      kwargs: { ...kwargs },
      options: opts,
    });
    return taskResult(id);
  }

  // ---- chain ---------------------------------------------------------------------------

  applyChain(node: SigNode, args: unknown[], kwargs: Opts, options: Opts): ResultNode | null {
    const o = { ...node.options, ...options };
    const take = (key: string): unknown => {
      const v = o[key];
      delete o[key];
      return v ?? null;
    };
    const groupId = str(take('group_id'));
    const chord = take('chord');
    const taskId = str(take('task_id'));
    const link = take('link');
    const linkError = take('link_error');
    const rootId = str(take('root_id'));
    const parentId = str(take('parent_id'));
    const groupIndex = num(take('group_index'));
    const a = args.length > 0 && !node.immutable ? [...args, ...node.args] : node.args;
    const [tasks, results] = this.prepareSteps(a, kwargs, node.tasks, {
      rootId,
      parentId,
      linkError,
      lastTaskId: taskId,
      groupId,
      chord,
      clone: true,
      groupIndex,
    });
    if (results.length === 0) return null;
    if (link) extendListOption(tasks[0] as SigNode, 'link', link);
    const first = tasks.pop() as SigNode;
    const rest =
      'chain' in o && Array.isArray(o['chain']) ? [...(o['chain'] as unknown[]), ...tasks] : tasks;
    // The first step is sent with the parent Celery's send_task would find (the running task).
    const firstOpts: Opts = { ...o, chain: rest };
    if (parentId !== null) firstOpts['parent_id'] = parentId;
    const applied = this.apply(first, [], {}, firstOpts);
    return tasks.length === 0 ? applied : (results[0] as ResultNode);
  }

  // ---- group ---------------------------------------------------------------------------

  applyGroup(node: SigNode, args: unknown[], kwargs: Opts, options: Opts): ResultNode {
    if (options['link'] !== undefined) {
      throw new ArgumentsError('Cannot add link to group', {
        hint: 'use a chord: group(...).pipe(callback)',
      });
    }
    if (options['link_error'] !== undefined) {
      throw new ArgumentsError('Cannot add link_error to group', {
        hint: 'do that on individual tasks, or with group.onError()',
      });
    }
    if (node.tasks.length === 0) return this.freezeGroup(node, {});
    const o = { ...node.options, ...options };
    const gid = str(o['task_id']) ?? this.ctx.newId();
    delete o['task_id'];
    o['group_id'] = gid;
    const rootId = str(o['root_id']);
    const prepared = this.prepared(node.tasks, gid, rootId);
    const chord = o['chord'];
    delete o['chord'];
    const results: ResultNode[] = [];
    let chordSize = 0;
    prepared.forEach(([sig, res], index) => {
      const chordObj = chord ?? sig.options['chord'] ?? null;
      chordSize += descend(sig);
      if (chordObj !== null && index === prepared.length - 1) {
        this.steps.push({ kind: 'chord-size', groupId: gid, size: chordSize });
      }
      const memberOpts: Opts = chordObj === null ? { ...o } : { ...o, chord: chordObj };
      this.apply(sig, args, kwargs, memberOpts);
      results.push(res);
    });
    const only = results[0];
    if (results.length === 1 && only?.kind === 'group') return only;
    return groupResult(gid, results);
  }

  prepared(
    tasks: readonly SigNode[],
    gid: string,
    rootId: string | null,
  ): Array<[SigNode, ResultNode]> {
    const out: Array<[SigNode, ResultNode]> = [];
    for (const t of tasks) {
      const task = cloneNode(t);
      if (task.kind === 'group') out.push(...this.prepared(task.tasks, gid, rootId));
      else out.push([task, this.freeze(task, { groupId: gid, rootId })]);
    }
    return out;
  }

  // ---- chord ---------------------------------------------------------------------------

  applyChord(node: SigNode, args: unknown[], options: Opts): ResultNode {
    const o = { ...options };
    let taskId = str(o['task_id']);
    delete o['task_id'];
    const partial = args.length > 0 && !node.immutable ? [...args, ...node.args] : node.args;
    if (!node.body)
      throw new ArgumentsError('A chord needs a body', { hint: 'chord(header, body)' });
    const body = cloneWith(node.body, [], {}, o);
    const header = node.header ? cloneNode(node.header) : groupNode([], {});
    const merged = { ...node.options, ...o };
    taskId ??= str(merged['task_id']);
    delete merged['task_id'];
    return this.runChord(header, body, partial, taskId, merged);
  }

  runChord(
    header: SigNode,
    body: SigNode,
    partial: unknown[],
    taskId: string | null,
    options: Opts,
  ): ResultNode {
    const gid = str(header.options['task_id']) ?? this.ctx.newId();
    const rootId = str(body.options['root_id']);
    const opts = { ...options };
    delete opts['task_id'];
    Object.assign(body.options, opts);
    const bodyRes = this.freeze(body, { id: taskId, rootId });
    delete opts['chain'];
    delete opts['chord'];
    const frozenHeader = this.freezeGroup(header, { groupId: gid, chord: body, rootId });
    let headerRes: ResultNode;
    if (header.tasks.length > 0) {
      // Links belong to the body (Celery would refuse them on the header group).
      delete opts['link'];
      delete opts['link_error'];
      headerRes = this.applyGroup(header, partial, {}, { ...opts, task_id: gid });
    } else {
      // No header task will ever complete the chord: the body runs now, with no results.
      this.apply(body, [[]], {}, {});
      headerRes = frozenHeader;
    }
    linkRoot(bodyRes, headerRes);
    return bodyRes;
  }
}

/** A signature dict (or a node) as a node, for callers holding wire data. */
export function toNode(value: unknown): SigNode {
  return parseWire(value);
}
