/**
 * `chain(a, b, c)`: each step runs with the previous step's result prepended to its
 * arguments (spec §f.3). Typed: a step that cannot take the previous result does not
 * compile. The fluent form is `a.pipe(b).pipe(c)`.
 */
import { chainData, chainOf } from './compose.js';
import { Signature, type AnySignature } from './signature.js';
import type { CanvasApp, ResultKind } from './types.js';

type Sig<R, I, K extends ResultKind = ResultKind> = Signature<R, I, K>;

/** A chain of one step behaves like the step. */
export function chain<R1, I1, K1 extends ResultKind>(s1: Sig<R1, I1, K1>): Sig<R1, I1, K1>;
/** `s2` gets `s1`'s result. */
export function chain<R1, I1, R2, K extends ResultKind>(
  s1: Sig<R1, I1>,
  s2: Sig<R2, NoInfer<R1>, K>,
): Sig<R2, I1, K>;
/** Each step gets the previous step's result. */
export function chain<R1, I1, R2, R3, K extends ResultKind>(
  s1: Sig<R1, I1>,
  s2: Sig<R2, NoInfer<R1>>,
  s3: Sig<R3, NoInfer<R2>, K>,
): Sig<R3, I1, K>;
/** Each step gets the previous step's result. */
export function chain<R1, I1, R2, R3, R4, K extends ResultKind>(
  s1: Sig<R1, I1>,
  s2: Sig<R2, NoInfer<R1>>,
  s3: Sig<R3, NoInfer<R2>>,
  s4: Sig<R4, NoInfer<R3>, K>,
): Sig<R4, I1, K>;
/** Each step gets the previous step's result. */
export function chain<R1, I1, R2, R3, R4, R5, K extends ResultKind>(
  s1: Sig<R1, I1>,
  s2: Sig<R2, NoInfer<R1>>,
  s3: Sig<R3, NoInfer<R2>>,
  s4: Sig<R4, NoInfer<R3>>,
  s5: Sig<R5, NoInfer<R4>, K>,
): Sig<R5, I1, K>;
/** Each step gets the previous step's result. */
export function chain<R1, I1, R2, R3, R4, R5, R6, K extends ResultKind>(
  s1: Sig<R1, I1>,
  s2: Sig<R2, NoInfer<R1>>,
  s3: Sig<R3, NoInfer<R2>>,
  s4: Sig<R4, NoInfer<R3>>,
  s5: Sig<R5, NoInfer<R4>>,
  s6: Sig<R6, NoInfer<R5>, K>,
): Sig<R6, I1, K>;
/** Each step gets the previous step's result. */
export function chain<R1, I1, R2, R3, R4, R5, R6, R7, K extends ResultKind>(
  s1: Sig<R1, I1>,
  s2: Sig<R2, NoInfer<R1>>,
  s3: Sig<R3, NoInfer<R2>>,
  s4: Sig<R4, NoInfer<R3>>,
  s5: Sig<R5, NoInfer<R4>>,
  s6: Sig<R6, NoInfer<R5>>,
  s7: Sig<R7, NoInfer<R6>, K>,
): Sig<R7, I1, K>;
/** Each step gets the previous step's result. */
export function chain<R1, I1, R2, R3, R4, R5, R6, R7, R8, K extends ResultKind>(
  s1: Sig<R1, I1>,
  s2: Sig<R2, NoInfer<R1>>,
  s3: Sig<R3, NoInfer<R2>>,
  s4: Sig<R4, NoInfer<R3>>,
  s5: Sig<R5, NoInfer<R4>>,
  s6: Sig<R6, NoInfer<R5>>,
  s7: Sig<R7, NoInfer<R6>>,
  s8: Sig<R8, NoInfer<R7>, K>,
): Sig<R8, I1, K>;
/**
 * A chain of a list of steps (any length; not checked step by step: use the argument form
 * or `pipe()` for that).
 */
export function chain(steps: readonly AnySignature[]): Sig<unknown, unknown>;
export function chain(...args: unknown[]): AnySignature {
  const steps = (args.length === 1 && Array.isArray(args[0]) ? args[0] : args) as AnySignature[];
  const app: CanvasApp | undefined = steps.find((s) => s.app)?.app;
  const data = steps.length === 0 ? chainData([]) : chainOf(steps.map((s) => s.toData()));
  return Signature.fromData(data, app);
}
