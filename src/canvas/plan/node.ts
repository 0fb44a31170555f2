/**
 * The planner's working copy of a canvas: a tree of mutable nodes, so the planner can
 * "freeze" signatures (give them ids, group ids, chord callbacks) in place exactly where
 * Celery's canvas.py mutates its signature dicts. Options may hold nodes (a chord callback,
 * chain steps, links); they become dicts when a message is planned ({@link serializeOptions}).
 */
import { signatureFromWire, signatureToWire } from '../../protocol/signature.js';
import type { SignatureData } from '../../protocol/types.js';

/** How the planner treats a signature. */
export type NodeKind = 'task' | 'chain' | 'group' | 'chord';

/** One signature of the tree. */
export class SigNode {
  kind: NodeKind;
  task: string;
  args: unknown[];
  /** For chains, groups and chords: the kwargs other than their parts. */
  kwargs: Record<string, unknown>;
  options: Record<string, unknown>;
  subtaskType: SignatureData['subtaskType'];
  immutable: boolean;
  extra: Record<string, unknown> | undefined;
  /** Chain steps, group members (a chord's header members are in `header.tasks`). */
  tasks: SigNode[];
  /** A chord's header, always as a group node. */
  header: SigNode | null;
  /** A chord's body. */
  body: SigNode | null;

  constructor(data: SignatureData, parts: { tasks?: SigNode[]; header?: SigNode; body?: SigNode }) {
    this.kind = kindOf(data.subtaskType);
    this.task = data.task;
    this.args = [...data.args];
    this.kwargs = { ...data.kwargs };
    this.options = { ...data.options };
    this.subtaskType = data.subtaskType;
    this.immutable = data.immutable;
    this.extra = data.extra;
    this.tasks = parts.tasks ?? [];
    this.header = parts.header ?? null;
    this.body = parts.body ?? null;
  }

  /** The task id set by freezing, if any. */
  get id(): string | null {
    const id = this.options['task_id'];
    return typeof id === 'string' ? id : null;
  }
}

function kindOf(subtaskType: SignatureData['subtaskType']): NodeKind {
  return subtaskType === 'chain' || subtaskType === 'group' || subtaskType === 'chord'
    ? subtaskType
    : 'task';
}

/** A fresh tree from a signature (dict form; nested parts in wire form). Deep copy. */
export function parseNode(data: SignatureData): SigNode {
  const copy = structuredClone(data);
  const kw = copy.kwargs;
  switch (kindOf(copy.subtaskType)) {
    case 'chain':
    case 'group': {
      const tasks = listOf(kw['tasks']).map(parseWire);
      delete kw['tasks'];
      return new SigNode(copy, { tasks });
    }
    case 'chord': {
      const header = headerNode(kw['header']);
      const body = kw['body'] ? parseWire(kw['body']) : undefined;
      delete kw['header'];
      delete kw['body'];
      return new SigNode(copy, body ? { header, body } : { header });
    }
    case 'task':
      return new SigNode(copy, {});
  }
}

/** A node from a wire dict (or a node, returned as is). */
export function parseWire(value: unknown): SigNode {
  return value instanceof SigNode ? value : parseNode(signatureFromWire(value));
}

/**
 * A chord's header as a group node. Celery (`_maybe_group`) keeps only the tasks of a
 * header given as a group or chain, so the group's own options are dropped here too.
 */
export function headerNode(header: unknown): SigNode {
  let tasks: SigNode[];
  if (Array.isArray(header)) tasks = header.map(parseWire);
  else if (header instanceof SigNode) {
    tasks = header.kind === 'group' || header.kind === 'chain' ? header.tasks : [header];
  } else if (header && typeof header === 'object') {
    const node = parseWire(header);
    tasks = node.kind === 'group' || node.kind === 'chain' ? node.tasks : [node];
  } else tasks = [];
  return groupNode(tasks, {});
}

/** A new group node. */
export function groupNode(tasks: SigNode[], options: Record<string, unknown>): SigNode {
  const data: SignatureData = {
    task: 'celery.group',
    args: [],
    kwargs: {},
    options,
    subtaskType: 'group',
    immutable: false,
  };
  return new SigNode(data, { tasks });
}

/** A new chord node (Celery's `chord(header, body, **options)`). */
export function chordNode(
  header: SigNode,
  body: SigNode,
  options: Record<string, unknown>,
): SigNode {
  const group = header.kind === 'group' ? header : groupNode([header], {});
  const data: SignatureData = {
    task: 'celery.chord',
    args: [],
    kwargs: { kwargs: {} },
    options,
    subtaskType: 'chord',
    immutable: false,
  };
  return new SigNode(data, { header: group, body });
}

/** Celery's `clone()`: a copy with its own options and parts (nodes held in options are shared). */
export function cloneNode(node: SigNode): SigNode {
  const data = dataOf(node, cloneValue);
  const parts: { tasks?: SigNode[]; header?: SigNode; body?: SigNode } = {};
  if (node.kind === 'chord') {
    parts.header = node.header ? cloneNode(node.header) : groupNode([], {});
    if (node.body) parts.body = cloneNode(node.body);
  } else parts.tasks = node.tasks.map(cloneNode);
  return new SigNode(data, parts);
}

function cloneValue(value: unknown): unknown {
  if (value instanceof SigNode) return value;
  if (Array.isArray(value)) return value.map(cloneValue);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = cloneValue(v);
    return out;
  }
  return value;
}

function dataOf(node: SigNode, mapOption: (v: unknown) => unknown): SignatureData {
  const options: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node.options)) options[k] = mapOption(v);
  const data: SignatureData = {
    task: node.task,
    args: structuredClone(node.args),
    kwargs: structuredClone(node.kwargs),
    options,
    subtaskType: node.subtaskType,
    immutable: node.immutable,
  };
  if (node.extra !== undefined) data.extra = node.extra;
  return data;
}

/** The node in dict form, camelCase top level, parts and option nodes as wire dicts. */
export function nodeToData(node: SigNode): SignatureData {
  const data = dataOf(node, serializeValue);
  if (node.kind === 'chain' || node.kind === 'group') {
    data.kwargs = { ...data.kwargs, tasks: node.tasks.map(nodeToWire) };
  } else if (node.kind === 'chord') {
    data.kwargs = {
      ...data.kwargs,
      header: (node.header?.tasks ?? []).map(nodeToWire),
      body: node.body ? nodeToWire(node.body) : null,
    };
  }
  return data;
}

/** The node as Celery's wire dict. */
export function nodeToWire(node: SigNode): Record<string, unknown> {
  return signatureToWire(nodeToData(node));
}

/** Options with every node (a chord callback, chain steps, links) turned into a dict. */
export function serializeOptions(options: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) out[k] = serializeValue(v);
  return out;
}

function serializeValue(value: unknown): unknown {
  if (value instanceof SigNode) return nodeToWire(value);
  if (Array.isArray(value)) return value.map(serializeValue);
  return value;
}

function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
