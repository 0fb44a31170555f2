/** The control signal `ctx.replace(sig)` throws; the task's invoke turns it into the replacement. */
import type { AnySignature } from '../canvas/signature.js';

/** Thrown by `ctx.replace(sig)`: not a failure. The task is replaced by `signature`. */
export class Replace extends Error {
  override readonly name = 'Replace';
  constructor(readonly signature: AnySignature) {
    super(`Replaced by ${signature.task}`);
  }
}
