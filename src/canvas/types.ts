/**
 * Type-level helpers of the canvas: what a signature returns, what it accepts when it is a
 * chain step, and which result handle applying it gives back.
 *
 * The result handles (AsyncResult, GroupResult) live in app/, a layer above this one. So
 * that canvas/ can name them without importing upwards, {@link ResultHandles} is empty here
 * and app/group-result.ts fills it in by declaration merging. At run time canvas/ never
 * touches app/: applying goes through the {@link CanvasApp} interface the app implements.
 */
import type { SignatureData } from '../protocol/types.js';

/**
 * The result handles applying a canvas gives back, by kind. Filled in by app/ with
 * `single: AsyncResult<R>` and `group: GroupResult<R>`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unused-vars
export interface ResultHandles<R> {}

/** What applying a canvas yields: one task's result, or a group's results. */
export type ResultKind = 'single' | 'group';

/** The handle of a single result (AsyncResult<R> once app/ is loaded). */
export type AsyncResultOf<R> = ResultHandles<R> extends { single: infer H } ? H : never;
/** The handle of a group's results (GroupResult<R> once app/ is loaded). */
export type GroupResultOf<R> = ResultHandles<R> extends { group: infer H } ? H : never;
/** The handle of a canvas of kind K. */
export type HandleOf<R, K extends ResultKind> = K extends 'group'
  ? GroupResultOf<R>
  : AsyncResultOf<R>;

/** The first element type of a tuple (`unknown` when there is none). */
export type Head<A extends readonly unknown[]> = A extends readonly [infer F, ...unknown[]]
  ? F
  : A extends readonly (infer E)[]
    ? E
    : unknown;

/** A tuple without its first element (a variadic array stays as it is). */
export type Tail<A extends readonly unknown[]> = A extends readonly [unknown, ...infer T] ? T : A;

/** A prefix of a tuple's elements, each prefix length allowed. */
export type PartialArgs<A extends readonly unknown[]> = A extends readonly [...infer H, unknown]
  ? A | PartialArgs<H>
  : A;

/**
 * What `task.s(...allArgs)` accepts as a chain step: nothing (`never`: the call is complete,
 * a prepended result would be one argument too many), except for variadic tasks, which take
 * their first parameter's type.
 */
export type CompleteInput<A extends readonly unknown[]> = number extends A['length']
  ? Head<A>
  : never;

/** The arguments `delay()` takes on a signature whose input is I. */
export type DelayArgs<I> = [I] extends [never] ? [] : unknown extends I ? unknown[] : [] | [I];

/**
 * The app side of a canvas: what `delay()` / `applyAsync()` call. Implemented by the Celery
 * app (app/canvas-apply.ts); `options` are apply options in wire form (snake_case keys).
 */
export interface CanvasApp {
  applyCanvas(
    canvas: SignatureData,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options: Record<string, unknown>,
  ): Promise<unknown>;
}
