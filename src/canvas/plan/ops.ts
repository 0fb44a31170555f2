/**
 * Celery's Signature methods on plan nodes: merging partial arguments and options, cloning,
 * links, how much a signature counts in a chord (`_descend`), and chunks as a group.
 */
import { cloneNode, groupNode, parseNode, serializeOptions, type SigNode } from './node.js';

/** Options in wire form. */
export type Opts = Record<string, unknown>;

/** Celery's `_merge`: args prepended (unless immutable), kwargs merged, options merged (group_id kept). */
export function merge(
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
export function cloneWith(
  node: SigNode,
  args: unknown[],
  kwargs: Opts,
  options: Opts = {},
): SigNode {
  const copy = cloneNode(node);
  if (args.length === 0 && isEmpty(kwargs) && isEmpty(options)) return copy;
  const [a, k, o] = merge(copy, args, kwargs, options);
  copy.args = [...a];
  copy.kwargs = { ...k };
  copy.options = o;
  return copy;
}

/** A one-member group stands for its member (Celery's maybe_unroll_group). */
export function unrollGroup(group: SigNode): SigNode {
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

/** Celery's `link_error()`: on a chord's body, every group member, or the signature's options (once). */
export function linkErrorOn(node: SigNode, errback: unknown): void {
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

/** Celery's `extend_list_option()`: appends to a list option. */
export function extendListOption(node: SigNode, key: string, value: unknown): void {
  node.options[key] = [...listOf(node.options[key]), ...listOf(value)];
}

/** chunks(task, it, n) as the group Celery applies: one celery.starmap task per chunk. */
export function chunksGroup(node: SigNode): SigNode {
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

/** A list option as a list (a single value, null and undefined included). */
export function listOf(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? [...(value as unknown[])] : [value];
}

/** Options without null or undefined values (Celery drops None options). */
export function dropNulls(o: Opts): Opts {
  const out: Opts = {};
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

/** True for an object with no keys. */
export function isEmpty(o: Opts): boolean {
  return Object.keys(o).length === 0;
}

/** A non-empty string, or null. */
export function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

/** A number, or null. */
export function num(v: unknown): number | null {
  return typeof v === 'number' ? v : null;
}
