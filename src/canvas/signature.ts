/**
 * Signatures: a task call as data (Celery's `signature` / `.s()`), which can be stored,
 * sent inside messages (spec §f.1) and applied later. As in Celery, chains, groups and
 * chords are signatures too (`subtask_type` "chain", "group", "chord", with their parts in
 * `kwargs`), so any of them can be a callback, a chain step or a chord body.
 *
 * Pure data: applying (`delay()`, `applyAsync()`) goes through the app the signature was
 * made by (`add.s()` binds the task's app), see {@link CanvasApp}.
 *
 * Type parameters (phantoms, they only guide the compiler): `R` the result, `I` what the
 * signature accepts as a chain step (the previous result is prepended to its arguments;
 * `never` when its arguments are complete, `unknown` when immutable), `K` whether applying
 * it gives one result or a group of results.
 */
import { ArgumentsError } from '../errors.js';
import { signatureFromWire, signatureToWire } from '../protocol/signature.js';
import type { SignatureData } from '../protocol/types.js';
import { addLink, bodyOf, membersOf, pipeData } from './compose.js';
import { optionsToWire, type ApplyOptions } from './options.js';
import type { CanvasApp, DelayArgs, HandleOf, ResultKind } from './types.js';

/** Options carried by a signature, in wire form (snake_case keys as Celery sends them). */
export type SignatureOptions = Record<string, unknown>;

/** Any signature, whatever its types: every signature is assignable to it. */
export type AnySignature = Signature<unknown, never, ResultKind>;

/** What a signature is built from. */
export interface SignatureInit {
  task: string;
  args?: readonly unknown[];
  kwargs?: Record<string, unknown>;
  options?: SignatureOptions;
  immutable?: boolean;
  subtaskType?: SignatureData['subtaskType'];
  /** Keys of the dict form we do not model, kept for the round trip. */
  extra?: Record<string, unknown> | undefined;
  /** The app that applies it (set by task handles; not part of the data). */
  app?: CanvasApp | undefined;
}

/** A task call, or a canvas of them, as data. */
export class Signature<R = unknown, I = never, K extends ResultKind = ResultKind> {
  declare readonly __result?: R;
  declare readonly __input?: (input: I) => void;
  declare readonly __kind?: K;
  readonly task: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly options: Readonly<SignatureOptions>;
  readonly immutable: boolean;
  readonly subtaskType: SignatureData['subtaskType'];
  readonly extra: Readonly<Record<string, unknown>> | undefined;
  /** The app `delay()` and `applyAsync()` use. */
  readonly app: CanvasApp | undefined;

  constructor(init: SignatureInit) {
    this.task = init.task;
    this.args = init.args ?? [];
    this.kwargs = init.kwargs ?? {};
    this.options = init.options ?? {};
    this.immutable = init.immutable ?? false;
    this.subtaskType = init.subtaskType ?? null;
    this.extra = init.extra;
    this.app = init.app;
  }

  /** The task id, once one is set (`options.task_id`). */
  get id(): string | undefined {
    const id = this.options['task_id'];
    return typeof id === 'string' ? id : undefined;
  }

  /** The members of a chain or group, or a chord's header (empty for a task signature). */
  get tasks(): AnySignature[] {
    return membersOf(this.toData()).map((d) => Signature.fromData(d, this.app));
  }

  /** A chord's body, or null. */
  get body(): AnySignature | null {
    const body = bodyOf(this.toData());
    return body ? Signature.fromData(body, this.app) : null;
  }

  /**
   * A copy with more options (Celery's `.set()`): apply options in camelCase
   * (`{ countdown: 10, queue: 'q' }`) or wire form (`{ task_id: ... }`).
   */
  set(options: ApplyOptions | SignatureOptions): Signature<R, I, K> {
    return this.clone({ options: { ...this.options, ...optionsToWire(options) } });
  }

  /** A copy with changes. */
  clone(
    changes: {
      args?: readonly unknown[];
      kwargs?: Record<string, unknown>;
      options?: SignatureOptions;
      immutable?: boolean;
    } = {},
  ): Signature<R, I, K> {
    return new Signature<R, I, K>({
      task: this.task,
      args: changes.args ?? this.args,
      kwargs: changes.kwargs ?? { ...this.kwargs },
      options: changes.options ?? { ...this.options },
      immutable: changes.immutable ?? this.immutable,
      subtaskType: this.subtaskType,
      extra: this.extra,
      app: this.app,
    });
  }

  /**
   * Add a callback run with this signature's result (on a chord: with the body's; on a
   * group: Celery links the first member, immutably).
   */
  link(callback: AnySignature): Signature<R, I, K> {
    return this.#withData(addLink(this.toData(), callback.toData(), 'link'));
  }

  /** Add an errback run with the failed task's id (on a group: on every member). */
  onError(errback: AnySignature): Signature<R, I, K> {
    return this.#withData(addLink(this.toData(), errback.toData(), 'link_error'));
  }

  /**
   * Celery's `|` (`a | b`), as a method: `add.s(2, 2).pipe(add.s(4)).pipe(mul.s(8))`.
   * A group piped into a signature becomes a chord (`group(...).pipe(xsum.s())`). `next`
   * must accept this signature's result as its first argument.
   *
   * (Not called `then`: an object with a `then` method is a thenable, and `await` or an
   * async function returning a signature would call it.)
   */
  pipe<R2, K2 extends ResultKind>(next: Signature<R2, R, K2>): Signature<R2, I, K2> {
    const data = pipeData(this.toData(), next.toData());
    return Signature.fromData<R2, I, K2>(data, this.app ?? next.app);
  }

  /** The arguments a chain step gets: the parent's result first, unless immutable. */
  argsWithParent(parentResult: unknown): unknown[] {
    return this.immutable ? [...this.args] : [parentResult, ...this.args];
  }

  /** Send it with partial arguments (prepended to its own, unless immutable). */
  delay(...args: DelayArgs<I>): Promise<HandleOf<R, K>> {
    return this.applyAsync(args);
  }

  /**
   * Send it: `args` are prepended to the signature's own, `kwargs` merged, `options` apply
   * to this call (for a chain: its last task id with `taskId`; for a group: the group id).
   */
  async applyAsync(
    args: readonly unknown[] | null = null,
    kwargs: Record<string, unknown> | null = null,
    options: ApplyOptions = {},
  ): Promise<HandleOf<R, K>> {
    if (!this.app) {
      throw new ArgumentsError(`Signature ${this.task} is not bound to an app`, {
        hint: 'build it from a task handle (add.s(...)), or call app.signature(sig) to bind it',
      });
    }
    const handle = await this.app.applyCanvas(
      this.toData(),
      args ?? [],
      kwargs ?? {},
      optionsToWire(options),
    );
    return handle as HandleOf<R, K>;
  }

  /** The same signature applied by `app`. */
  bind(app: CanvasApp): Signature<R, I, K> {
    return new Signature<R, I, K>({ ...this.toData(), extra: this.extra, app });
  }

  /** Celery's dict form, camelCase (protocol/signature.ts turns it into wire form). */
  toData(): SignatureData {
    const data: SignatureData = {
      task: this.task,
      args: [...this.args],
      kwargs: { ...this.kwargs },
      options: { ...this.options },
      subtaskType: this.subtaskType,
      immutable: this.immutable,
    };
    if (this.extra !== undefined) data.extra = { ...this.extra };
    return data;
  }

  /**
   * Celery's dict form exactly as it travels: `{"task", "args", "kwargs", "options",
   * "subtask_type", "immutable"}` (what Python's `dict(sig)` / `sig.__json__()` gives).
   * Store it, or pass it as a task argument, and rebuild it with {@link Signature.fromDict}.
   */
  toDict(): Record<string, unknown> {
    return structuredClone(signatureToWire(this.toData()));
  }

  /** JSON.stringify() writes the dict form. */
  toJSON(): Record<string, unknown> {
    return this.toDict();
  }

  /** Rebuilds a signature from its dict form (camelCase top level). */
  static fromData<R = unknown, I = unknown, K extends ResultKind = ResultKind>(
    data: SignatureData,
    app?: CanvasApp,
  ): Signature<R, I, K> {
    return new Signature<R, I, K>({
      task: data.task,
      args: data.args,
      kwargs: data.kwargs,
      options: data.options,
      immutable: data.immutable,
      subtaskType: data.subtaskType,
      extra: data.extra,
      app,
    });
  }

  /**
   * Rebuilds a signature from Celery's wire dict (what {@link Signature.toDict} or Python
   * wrote). Chains, groups and chords come back as such.
   * @throws MessageMalformedError when `dict` is not a signature dict.
   */
  static fromDict<R = unknown, I = unknown, K extends ResultKind = ResultKind>(
    dict: unknown,
    app?: CanvasApp,
  ): Signature<R, I, K> {
    return Signature.fromData<R, I, K>(signatureFromWire(dict), app);
  }

  #withData(data: SignatureData): Signature<R, I, K> {
    return Signature.fromData<R, I, K>(data, this.app);
  }
}
