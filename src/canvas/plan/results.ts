/**
 * The results a plan promises, before anything runs: one task's result or a group's, each
 * with the result it follows (`parent`: the previous chain step, a chord's header). The app
 * turns them into AsyncResult / GroupResult handles; `resultTuple` gives Celery's
 * `as_tuple()` form, used in task metas' `children` and saved groups (spec §d.2).
 */
import type { ResultTuple } from '../../protocol/types.js';

/** A planned result. Mutable: planning links parents as Celery does. */
export type ResultNode = TaskResultNode | GroupResultNode;

/** One task's result. */
export interface TaskResultNode {
  kind: 'task';
  id: string;
  parent: ResultNode | null;
}

/** A group's results, in member order. */
export interface GroupResultNode {
  kind: 'group';
  id: string;
  results: ResultNode[];
  parent: ResultNode | null;
}

/** A task result node. */
export function taskResult(id: string): TaskResultNode {
  return { kind: 'task', id, parent: null };
}

/** A group result node. */
export function groupResult(id: string, results: ResultNode[]): GroupResultNode {
  return { kind: 'group', id, results, parent: null };
}

/**
 * Makes `parent` the parent of the first result up `node`'s parent line that has none
 * (Celery's chord freeze: a chain body's first step follows the header).
 * @throws Error when the parent line loops.
 */
export function linkRoot(node: ResultNode, parent: ResultNode): void {
  const seen = new Set<ResultNode>();
  let cur: ResultNode = node;
  while (cur.parent) {
    if (seen.has(cur)) throw new Error('Recursive result parents');
    seen.add(cur);
    cur = cur.parent;
  }
  if (cur !== parent) cur.parent = parent;
}

/** The oldest ancestor of a result (itself when it has no parent). */
export function rootOf(node: ResultNode): ResultNode {
  let cur = node;
  while (cur.parent) cur = cur.parent;
  return cur;
}

/** Celery's `as_tuple()`: `[[id, parent tuple], null]` or `[[gid, parent], [member tuples]]`. */
export function resultTuple(node: ResultNode): ResultTuple {
  const parent = node.parent ? resultTuple(node.parent) : null;
  return node.kind === 'task'
    ? [[node.id, parent], null]
    : [[node.id, parent], node.results.map(resultTuple)];
}
