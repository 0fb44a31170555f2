/**
 * What applying a canvas sends, decided without I/O: a port of Celery 5.2.6's
 * `canvas.py` apply logic (`Signature.apply_async`, `_chain.run` / `prepare_steps`,
 * `group.apply_async` / `_apply_tasks`, `_chord.run`, and their `freeze()`), so that we send
 * what Python sends: the same messages in the same order, ids pre-assigned the same way,
 * the chord size set just before the last header task, `embed.chain` reversed.
 *
 * Clients and workers use the same planner: a chain's next step, a callback or a chord body
 * that is itself a group or chord is applied here, whoever applies it.
 */
import { ArgumentsError } from '../../errors.js';
import type { SignatureData } from '../../protocol/types.js';
import {
  chordNode,
  cloneNode,
  groupNode,
  parseNode,
  parseWire,
  serializeOptions,
  type SigNode,
} from './node.js';
import { groupResult, linkRoot, rootOf, taskResult, type ResultNode } from './results.js';

type Opts = Record<string, unknown>;

/** Ids and the reply_to Celery writes into frozen signatures. */
export interface PlanContext {
  newId(): string;
  /** The client's reply queue (Python's thread oid), written into frozen signatures. */
  replyTo: string | null;
}

/** Publish one task message. `options` are wire options (task_id, group_id, chord, chain...). */
export interface SendStep {
  kind: 'send';
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  options: Opts;
}

/** Store a chord's size (Celery's `set_chord_size`). */
export interface ChordSizeStep {
  kind: 'chord-size';
  groupId: string;
  size: number;
}

/** One thing to do, in order. */
export type PlanStep = SendStep | ChordSizeStep;

/** What applying a canvas does, and the result it promises (null for an empty chain). */
export interface Plan {
  steps: PlanStep[];
  result: ResultNode | null;
}

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

interface Freeze {
  id?: string | null;
  groupId?: string | null;
  chord?: unknown;
  rootId?: string | null;
  parentId?: string | null;
  groupIndex?: number | null;
}

class Planner {
  readonly steps: PlanStep[] = [];
  constructor(private readonly ctx: PlanContext) {}

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

  // ---- Signature -----------------------------------------------------------------------

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

  freeze(node: SigNode, f: Freeze): ResultNode {
    switch (node.kind) {
      case 'chain':
        return this.freezeChain(node, f);
      case 'group':
        return this.freezeGroup(node, f);
      case 'chord':
        return this.freezeChord(node, f);
      case 'task':
        return this.freezeTask(node, f);
    }
  }

  freezeTask(node: SigNode, f: Freeze): ResultNode {
    const o = node.options;
    let id = str(o['task_id']);
    if (id === null) o['task_id'] = id = f.id ?? this.ctx.newId();
    if (f.rootId) o['root_id'] = f.rootId;
    if (f.parentId) o['parent_id'] = f.parentId;
    if (!('reply_to' in o) && this.ctx.replyTo) o['reply_to'] = this.ctx.replyTo;
    if (f.groupId && !('group_id' in o)) o['group_id'] = f.groupId;
    if (f.chord) o['chord'] = f.chord;
    if (f.groupIndex !== undefined && f.groupIndex !== null) o['group_index'] = f.groupIndex;
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

  prepareSteps(
    args: unknown[],
    kwargs: Opts,
    steps: readonly SigNode[],
    p: {
      rootId: string | null;
      parentId: string | null;
      linkError: unknown;
      lastTaskId: string | null;
      groupId: string | null;
      chord: unknown;
      clone: boolean;
      groupIndex: number | null;
    },
  ): [SigNode[], ResultNode[]] {
    const queue = [...steps];
    const tasks: SigNode[] = [];
    const results: ResultNode[] = [];
    let prevTask: SigNode | null = null;
    let prevRes: ResultNode | null = null;
    let i = 0;
    while (queue.length > 0) {
      let task = queue.pop() as SigNode;
      const isFirst = queue.length === 0;
      const isLast = i === 0;
      if (task.kind === 'group') task = unrollGroup(task);
      if (p.clone) task = isFirst ? cloneWith(task, args, kwargs) : cloneNode(task);
      else if (isFirst) task.args = [...args, ...task.args];
      if (task.kind === 'chain') {
        queue.push(...task.tasks);
        continue;
      }
      if (task.kind === 'group' && prevTask) {
        // group(...) | s is upgraded to chord(group, s), frozen as one signature.
        tasks.pop();
        results.pop();
        const opts: Opts = { root_id: p.rootId };
        if (prevRes?.kind === 'task') opts['task_id'] = prevRes.id;
        // Celery rebuilds the header group from its tasks: the group's own options are dropped.
        task = chordNode(groupNode(task.tasks, {}), prevTask, opts);
      }
      const res = isLast
        ? this.freeze(task, {
            id: p.lastTaskId,
            rootId: p.rootId,
            groupId: p.groupId,
            chord: p.chord,
            groupIndex: p.groupIndex,
          })
        : this.freeze(task, { rootId: p.rootId });
      i++;
      if (prevTask && prevRes && !prevRes.parent) prevRes.parent = res;
      if (p.linkError) for (const eb of listOf(p.linkError)) linkErrorOn(task, eb);
      tasks.push(task);
      results.push(res);
      prevTask = task;
      prevRes = task.kind === 'chord' ? rootOf(res) : res;
    }
    return [tasks, results];
  }

  freezeChain(node: SigNode, f: Freeze): ResultNode {
    const [, results] = this.prepareSteps(node.args, node.kwargs, node.tasks, {
      rootId: f.rootId ?? null,
      parentId: f.parentId ?? null,
      linkError: null,
      lastTaskId: f.id ?? null,
      groupId: f.groupId ?? null,
      chord: f.chord ?? null,
      clone: false,
      groupIndex: f.groupIndex ?? null,
    });
    if (results.length === 0)
      throw new ArgumentsError('Cannot freeze an empty chain', {
        hint: 'give the chain at least one task',
      });
    return results[0] as ResultNode;
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

  freezeGroup(node: SigNode, f: Freeze): ResultNode {
    const o = node.options;
    let gid = str(o['task_id']);
    if (gid === null) o['task_id'] = gid = f.groupId ?? this.ctx.newId();
    if (f.groupId) o['group_id'] = f.groupId;
    if (f.chord) o['chord'] = f.chord;
    if (f.groupIndex !== undefined && f.groupIndex !== null) o['group_index'] = f.groupIndex;
    if (!('root_id' in o)) o['root_id'] = f.rootId ?? null;
    if (!('parent_id' in o)) o['parent_id'] = f.parentId ?? null;
    const rootId = str(o['root_id']);
    const parentId = str(o['parent_id']);
    // Nested groups are unrolled in place (Celery's deque.extendleft: their order reverses).
    const stack = [...node.tasks];
    const members: SigNode[] = [];
    const results: ResultNode[] = [];
    let index = 0;
    while (stack.length > 0) {
      const task = cloneNode(stack.shift() as SigNode);
      if (task.kind === 'group') {
        stack.unshift(...[...task.tasks].reverse());
        continue;
      }
      members.push(task);
      results.push(
        this.freeze(task, {
          groupId: f.groupId ?? null,
          chord: f.chord ?? null,
          rootId,
          parentId,
          groupIndex: index++,
        }),
      );
    }
    node.tasks = members;
    return groupResult(gid, results);
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

  freezeChord(node: SigNode, f: Freeze): ResultNode {
    const header = node.header ?? groupNode([], {});
    node.header = header;
    if (!node.body)
      throw new ArgumentsError('A chord needs a body', { hint: 'chord(header, body)' });
    const headerRes = this.freezeGroup(header, {
      parentId: f.parentId ?? null,
      rootId: f.rootId ?? null,
      chord: node.body,
    });
    const bodyRes = this.freeze(node.body, {
      id: f.id ?? null,
      rootId: f.rootId ?? null,
      chord: f.chord ?? null,
      groupId: f.groupId ?? null,
      groupIndex: f.groupIndex ?? null,
    });
    linkRoot(bodyRes, headerRes);
    node.options['task_id'] = header.options['task_id'];
    return bodyRes;
  }
}

// ---- helpers (Celery's Signature methods on nodes) --------------------------------------

/** Celery's `_merge`: args prepended (unless immutable), kwargs merged, options merged (group_id kept). */
function merge(
  node: SigNode,
  args: unknown[],
  kwargs: Opts,
  options: Opts,
): [unknown[], Opts, Opts] {
  const o = { ...node.options };
  for (const [k, v] of Object.entries(options)) {
    if (k === 'group_id' && k in node.options) continue;
    o[k] = v;
  }
  if (node.immutable) return [node.args, node.kwargs, o];
  return [
    args.length > 0 ? [...args, ...node.args] : node.args,
    isEmpty(kwargs) ? node.kwargs : { ...node.kwargs, ...kwargs },
    o,
  ];
}

/** Celery's `clone(args, kwargs, **options)`. */
function cloneWith(node: SigNode, args: unknown[], kwargs: Opts, options: Opts = {}): SigNode {
  const copy = cloneNode(node);
  if (args.length === 0 && isEmpty(kwargs) && isEmpty(options)) return copy;
  const [a, k, o] = merge(copy, args, kwargs, options);
  copy.args = [...a];
  copy.kwargs = { ...k };
  copy.options = o;
  return copy;
}

function unrollGroup(group: SigNode): SigNode {
  return group.tasks.length === 1 ? (group.tasks[0] as SigNode) : group;
}

/** How many header completions a signature adds to a chord (Celery's `_chord._descend`). */
export function descend(node: SigNode): number {
  switch (node.kind) {
    case 'group':
      return node.tasks.reduce((n, t) => n + descend(t), 0);
    case 'chain':
      for (const t of [...node.tasks].reverse()) {
        const n = descend(t);
        if (n > 0) return n;
      }
      return 0;
    case 'chord':
      return node.body ? descend(node.body) : 0;
    case 'task':
      return 1;
  }
}

function linkErrorOn(node: SigNode, errback: unknown): void {
  if (node.kind === 'chord' && node.body) return linkErrorOn(node.body, errback);
  if (node.kind === 'group') {
    for (const t of node.tasks) linkErrorOn(t, errback);
    return;
  }
  const items = listOf(node.options['link_error']);
  const text = JSON.stringify(serializeOptions({ v: errback }));
  if (!items.some((i) => JSON.stringify(serializeOptions({ v: i })) === text)) items.push(errback);
  node.options['link_error'] = items;
}

function extendListOption(node: SigNode, key: string, value: unknown): void {
  node.options[key] = [...listOf(node.options[key]), ...listOf(value)];
}

/** chunks(task, it, n) as the group Celery applies: one celery.starmap task per chunk. */
function chunksGroup(node: SigNode): SigNode {
  const task = node.kwargs['task'];
  const it = listOf(node.kwargs['it']);
  const n = num(node.kwargs['n']) ?? 1;
  const parts: SigNode[] = [];
  for (let i = 0; i < it.length; i += Math.max(1, n)) {
    parts.push(
      parseNode({
        task: 'celery.starmap',
        args: [],
        kwargs: { task, it: it.slice(i, i + Math.max(1, n)) },
        options: {},
        subtaskType: 'xstarmap',
        immutable: true,
      }),
    );
  }
  return groupNode(parts, { ...node.options });
}

function listOf(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? [...(value as unknown[])] : [value];
}

function dropNulls(o: Opts): Opts {
  const out: Opts = {};
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

function isEmpty(o: Opts): boolean {
  return Object.keys(o).length === 0;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function num(v: unknown): number | null {
  return typeof v === 'number' ? v : null;
}

/** A signature dict (or a node) as a node, for callers holding wire data. */
export function toNode(value: unknown): SigNode {
  return parseWire(value);
}
