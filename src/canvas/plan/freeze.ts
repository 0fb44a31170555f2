/**
 * Celery's `freeze()`: giving a canvas's signatures their task ids, group ids, group indexes,
 * chord callbacks and root ids before anything is sent, and `_chain.prepare_steps`, which
 * freezes a chain's steps from the last to the first (upgrading `group | task` to a chord).
 * Mutates the nodes in place, exactly where Celery mutates its signature dicts.
 */
import { ArgumentsError } from '../../errors.js';
import { chordNode, cloneNode, groupNode, type SigNode } from './node.js';
import { cloneWith, linkErrorOn, listOf, str, unrollGroup, type Opts } from './ops.js';
import { groupResult, linkRoot, rootOf, taskResult, type ResultNode } from './results.js';
import type { PlanContext, PlanStep } from './types.js';

/** What `freeze()` is given (Celery's keyword arguments). */
export interface Freeze {
  id?: string | null;
  groupId?: string | null;
  chord?: unknown;
  rootId?: string | null;
  parentId?: string | null;
  groupIndex?: number | null;
}

/** Freezes nodes; the planner (planner.ts) builds on it to apply them. */
export class Freezer {
  readonly steps: PlanStep[] = [];
  constructor(protected readonly ctx: PlanContext) {}

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
