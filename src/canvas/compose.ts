/**
 * Building canvases as data, the way Celery's `canvas.py` builds them: a chain is
 * `{"task": "celery.chain", "kwargs": {"tasks": [...]}, "subtask_type": "chain"}`, a group
 * `celery.group` with `kwargs.tasks`, a chord `celery.chord` with `kwargs.header` (a list)
 * and `kwargs.body` (spec §f.1). Nested parts are dicts in wire form, so what we build is
 * what Python builds and reads (`Signature.from_dict`).
 *
 * `pipe()` is Celery's `|`: task | task → chain, chain | task → a longer chain,
 * group | task → chord, chain ending in a group | task → that group becomes a chord,
 * chord | task → the task is piped onto the chord's body.
 */
import { signatureFromWire, signatureToWire } from '../protocol/signature.js';
import type { SignatureData } from '../protocol/types.js';

type Data = SignatureData;

/** The dict form of a signature (a deep copy). */
export function toWire(sig: Data): Record<string, unknown> {
  return structuredClone(signatureToWire(sig));
}

/** A nested signature dict (in kwargs or options) read back. */
export function fromWire(dict: unknown): Data {
  return signatureFromWire(dict);
}

/** A chain of the given steps (no flattening: see {@link pipeData} for Celery's rules). */
export function chainData(steps: readonly Data[], options: Record<string, unknown> = {}): Data {
  return {
    task: 'celery.chain',
    args: [],
    kwargs: { tasks: steps.map(toWire) },
    options,
    subtaskType: 'chain',
    immutable: false,
  };
}

/** A group of the given members. */
export function groupData(members: readonly Data[], options: Record<string, unknown> = {}): Data {
  return {
    task: 'celery.group',
    args: [],
    kwargs: { tasks: members.map(toWire) },
    options,
    subtaskType: 'group',
    immutable: false,
  };
}

/**
 * A chord. The header may be a list, a group or a chain (Celery unwraps both to their
 * tasks) or one signature.
 */
export function chordData(header: Data | readonly Data[], body: Data): Data {
  return {
    task: 'celery.chord',
    args: [],
    kwargs: { kwargs: {}, header: headerTasks(header).map(toWire), body: toWire(body) },
    options: {},
    subtaskType: 'chord',
    immutable: false,
  };
}

function headerTasks(header: Data | readonly Data[]): Data[] {
  if (isList(header)) return [...header];
  if (header.subtaskType === 'group' || header.subtaskType === 'chain') return membersOf(header);
  return [header];
}

function isList(v: Data | readonly Data[]): v is readonly Data[] {
  return Array.isArray(v);
}

/** `[task(x) for x in it]` in one task (celery.map), or `task(*x)` (celery.starmap). */
export function mapData(task: Data, it: readonly unknown[], star: boolean): Data {
  return {
    task: star ? 'celery.starmap' : 'celery.map',
    args: [],
    kwargs: { task: toWire(task), it: [...it] },
    options: {},
    subtaskType: star ? 'xstarmap' : 'xmap',
    immutable: true,
  };
}

/** `it` cut in chunks of n, each chunk one celery.starmap task, all in a group. */
export function chunksData(task: Data, it: readonly unknown[], n: number): Data {
  return {
    task: 'celery.chunks',
    args: [],
    kwargs: { task: toWire(task), it: [...it], n },
    options: {},
    subtaskType: 'chunks',
    immutable: true,
  };
}

/** The members of a chain or group, or a chord's header tasks. Empty for other signatures. */
export function membersOf(sig: Data): Data[] {
  const kw = sig.kwargs;
  if (sig.subtaskType === 'chain' || sig.subtaskType === 'group') {
    return Array.isArray(kw['tasks']) ? (kw['tasks'] as unknown[]).map(fromWire) : [];
  }
  if (sig.subtaskType === 'chord') {
    const header = kw['header'];
    if (Array.isArray(header)) return header.map(fromWire);
    if (header && typeof header === 'object') return membersOf(fromWire(header));
  }
  return [];
}

/** A chord's body, or null. */
export function bodyOf(sig: Data): Data | null {
  const body = sig.kwargs['body'];
  return sig.subtaskType === 'chord' && body ? fromWire(body) : null;
}

function withMembers(sig: Data, members: readonly Data[]): Data {
  return { ...sig, kwargs: { ...sig.kwargs, tasks: members.map(toWire) } };
}

function withBody(sig: Data, body: Data): Data {
  return { ...sig, kwargs: { ...sig.kwargs, body: toWire(body) } };
}

/** A one-member group stands for its member (Celery's maybe_unroll_group). */
function unrollGroup(sig: Data): Data {
  if (sig.subtaskType !== 'group') return sig;
  const members = membersOf(sig);
  return members.length === 1 ? (members[0] as Data) : sig;
}

/** A chain's tasks, each with the chain's own errbacks (Celery's unchain_tasks). */
function unchainTasks(chain: Data): Data[] {
  const errbacks = listOption(chain.options['link_error']).map(fromWire);
  return membersOf(chain).map((t) =>
    errbacks.reduce<Data>((s, eb) => addLink(s, eb, 'link_error'), t),
  );
}

/** Celery's `a | b`. */
export function pipeData(a: Data, b: Data): Data {
  switch (a.subtaskType) {
    case 'group':
      return chordData(a, b);
    case 'chain':
      return pipeChain(a, b);
    case 'chord':
      if (b.subtaskType !== 'group' && b.subtaskType !== 'chain') {
        const body = bodyOf(a);
        return body ? withBody(a, pipeData(body, b)) : chainData([a, b]);
      }
      return pipeTask(a, b);
    case 'chunks':
    case 'xmap':
    case 'xstarmap':
    case null:
      return pipeTask(a, b);
  }
}

function pipeTask(a: Data, b: Data): Data {
  if (b.subtaskType === 'chain') return chainData([a, ...unchainTasks(b)]);
  return chainData([a, unrollGroup(b)]);
}

function pipeChain(a: Data, b: Data): Data {
  const tasks = unchainTasks(a);
  if (b.subtaskType === 'group') {
    const other = unrollGroup(b);
    return tasks.length === 0 ? other : chainData([...tasks, other]);
  }
  if (b.subtaskType === 'chain') return chainData([...tasks, ...unchainTasks(b)]);
  const last = tasks[tasks.length - 1];
  if (last?.subtaskType === 'group') {
    return withMembers(a, [...membersOf(a).slice(0, -1), chordData(last, b)]);
  }
  if (last?.subtaskType === 'chord') {
    const members = membersOf(a);
    return withMembers(a, [...members.slice(0, -1), pipeData(last, b)]);
  }
  return chainData([...tasks, b]);
}

/** Celery's chain(a, b, c): `reduce(or, tasks, chain())`. */
export function chainOf(steps: readonly Data[]): Data {
  return steps.reduce<Data>((acc, step) => pipeData(acc, step), chainData([]));
}

/** A list option (`link`, `link_error`) as a list. */
export function listOption(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? [...(value as unknown[])] : [value];
}

/**
 * Adds a callback (`link`) or errback (`link_error`) where Celery puts it: on a chord's body,
 * on a group's first member (link, made immutable) or on every member (link_error), else in
 * the signature's own options (once).
 */
export function addLink(sig: Data, callback: Data, key: 'link' | 'link_error'): Data {
  if (sig.subtaskType === 'chord') {
    const body = bodyOf(sig);
    if (body) return withBody(sig, addLink(body, callback, key));
  }
  if (sig.subtaskType === 'group') {
    const members = membersOf(sig);
    if (key === 'link' && members.length > 0) {
      const cb = { ...callback, immutable: true };
      return withMembers(sig, [addLink(members[0] as Data, cb, key), ...members.slice(1)]);
    }
    if (key === 'link_error')
      return withMembers(
        sig,
        members.map((m) => addLink(m, callback, key)),
      );
  }
  const wire = toWire(callback);
  const items = listOption(sig.options[key]);
  const text = JSON.stringify(wire);
  if (!items.some((item) => JSON.stringify(item) === text)) items.push(wire);
  return { ...sig, options: { ...sig.options, [key]: items } };
}
