/**
 * Celery's map primitives: `xmap(task, it)` runs `task(x)` for each item in ONE task
 * (celery.map), `xstarmap` runs `task(...x)` (celery.starmap), `chunks(task, it, n)` splits
 * the items into groups of n, one celery.starmap task each, run as a group.
 */
import { chunksData, mapData } from './compose.js';
import { Signature, type AnySignature } from './signature.js';
import type { ResultKind } from './types.js';

/** `[task(x) for x in it]` in one task: `xmap(double.s(), [1, 2, 3])`. */
export function xmap<R, I>(
  task: Signature<R, I, ResultKind>,
  it: readonly I[],
): Signature<R[], never, 'single'> {
  return Signature.fromData(mapData(task.toData(), it, false), task.app);
}

/** `[task(...x) for x in it]` in one task. */
export function xstarmap<R>(
  task: Signature<R, unknown, ResultKind> | AnySignature,
  it: readonly (readonly unknown[])[],
): Signature<R[], never, 'single'> {
  return Signature.fromData(mapData(task.toData(), it, true), task.app);
}

/** The items cut in chunks of `n`, each chunk a celery.starmap task; applied as a group. */
export function chunks<R>(
  task: Signature<R, unknown, ResultKind> | AnySignature,
  it: readonly (readonly unknown[])[],
  n: number,
): Signature<R[][], never, 'group'> {
  return Signature.fromData(chunksData(task.toData(), it, n), task.app);
}
