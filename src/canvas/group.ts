/**
 * `group(...)`: tasks run in parallel, results in order (spec §f.4); `chord(header, body)`:
 * the body runs once with the header's results as a list (spec §f.5). Typed: the body
 * must accept the header's results.
 */
import { chordData, groupData } from './compose.js';
import { Signature, type AnySignature } from './signature.js';
import type { CanvasApp, ResultKind } from './types.js';

/** The result type of a signature type. */
export type ResultOf<S> = S extends { readonly __result?: infer R } ? R : unknown;
/** What a signature type accepts as a chain step. */
export type InputOf<S> = S extends { readonly __input?: (input: infer I) => void } ? I : never;
/** The results of a list of signatures, in order. */
export type ResultsOf<S extends readonly unknown[]> = { -readonly [K in keyof S]: ResultOf<S[K]> };
/** What every member of a list accepts (the previous result goes to each member). */
export type InputsOf<S extends readonly unknown[]> = S extends readonly [infer H, ...infer T]
  ? InputOf<H> & InputsOf<T>
  : S extends readonly []
    ? unknown
    : InputOf<S[number]>;

/** A group of the given signatures: `group(add.s(1, 1), add.s(2, 2))`. */
export function group<const S extends readonly AnySignature[]>(
  ...tasks: S
): Signature<ResultsOf<S>, InputsOf<S>, 'group'>;
/** A group of a list of signatures: `group(numbers.map((n) => add.s(n, n)))`. */
export function group<R, I>(
  tasks: readonly Signature<R, I, ResultKind>[],
): Signature<R[], I, 'group'>;
export function group(...args: unknown[]): AnySignature {
  const tasks = (args.length === 1 && Array.isArray(args[0]) ? args[0] : args) as AnySignature[];
  return Signature.fromData(groupData(unrollGroups(tasks)), appOf(tasks));
}

/** Celery's group(g) (a single group argument) is that group's tasks. */
function unrollGroups(tasks: readonly AnySignature[]): ReturnType<AnySignature['toData']>[] {
  const only = tasks[0];
  if (tasks.length === 1 && only?.subtaskType === 'group') return only.tasks.map((t) => t.toData());
  return tasks.map((t) => t.toData());
}

/**
 * A chord: the header's tasks run in parallel, then `body` runs once with their results
 * (in header order) prepended as one list. Same as `group(...header).pipe(body)`.
 */
export function chord<HR extends readonly unknown[], HI, RB, KB extends ResultKind>(
  header: Signature<HR, HI, 'group'>,
  body: Signature<RB, NoInfer<HR>, KB>,
): Signature<RB, HI, KB>;
/** A chord with a list of header signatures. */
export function chord<const S extends readonly AnySignature[], RB, KB extends ResultKind>(
  header: S,
  body: Signature<RB, NoInfer<ResultsOf<S>>, KB>,
): Signature<RB, InputsOf<S>, KB>;
export function chord(
  header: AnySignature | readonly AnySignature[],
  body: AnySignature,
): AnySignature {
  const list = Array.isArray(header)
    ? (header as readonly AnySignature[])
    : [header as AnySignature];
  const data = Array.isArray(header)
    ? chordData(
        list.map((t) => t.toData()),
        body.toData(),
      )
    : chordData((header as AnySignature).toData(), body.toData());
  return Signature.fromData(data, appOf([...list, body]));
}

function appOf(sigs: readonly AnySignature[]): CanvasApp | undefined {
  return sigs.find((s) => s.app)?.app;
}
