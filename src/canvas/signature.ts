/**
 * Signatures: a task call as data (Celery's `signature` / `.s()`), which can be stored,
 * sent inside messages (spec §f.1) and applied later. Pure: no I/O here.
 */
import type { SignatureData } from '../protocol/types.js';

/** Options carried by a signature, in wire form (snake_case keys as Celery sends them). */
export type SignatureOptions = Record<string, unknown>;

/**
 * A task call as data. `R` is the task's result type (a phantom: it only guides the types of
 * results and of canvases built from signatures).
 */
export class Signature<R = unknown> {
  declare readonly __result?: R;
  readonly task: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly options: Readonly<SignatureOptions>;
  readonly immutable: boolean;
  readonly subtaskType: SignatureData['subtaskType'];

  constructor(init: {
    task: string;
    args?: readonly unknown[];
    kwargs?: Record<string, unknown>;
    options?: SignatureOptions;
    immutable?: boolean;
    subtaskType?: SignatureData['subtaskType'];
  }) {
    this.task = init.task;
    this.args = init.args ?? [];
    this.kwargs = init.kwargs ?? {};
    this.options = init.options ?? {};
    this.immutable = init.immutable ?? false;
    this.subtaskType = init.subtaskType ?? null;
  }

  /** A copy with more options (Celery's `.set()`). */
  set(options: SignatureOptions): Signature<R> {
    return this.clone({ options: { ...this.options, ...options } });
  }

  /** A copy with changes. */
  clone(
    changes: {
      args?: readonly unknown[];
      kwargs?: Record<string, unknown>;
      options?: SignatureOptions;
      immutable?: boolean;
    } = {},
  ): Signature<R> {
    return new Signature<R>({
      task: this.task,
      args: changes.args ?? this.args,
      kwargs: changes.kwargs ?? { ...this.kwargs },
      options: changes.options ?? { ...this.options },
      immutable: changes.immutable ?? this.immutable,
      subtaskType: this.subtaskType,
    });
  }

  /** Add a callback run with this task's result. */
  link(callback: Signature): Signature<R> {
    const links = Array.isArray(this.options.link) ? (this.options.link as unknown[]) : [];
    return this.set({ link: [...links, callback.toData()] });
  }

  /** Add an errback run with this task's id when it fails. */
  onError(errback: Signature): Signature<R> {
    const links = Array.isArray(this.options.link_error)
      ? (this.options.link_error as unknown[])
      : [];
    return this.set({ link_error: [...links, errback.toData()] });
  }

  /** The arguments a chain step gets: the parent's result first, unless immutable. */
  argsWithParent(parentResult: unknown): unknown[] {
    return this.immutable ? [...this.args] : [parentResult, ...this.args];
  }

  /** Celery's dict form, camelCase (protocol/signature.ts turns it into wire form). */
  toData(): SignatureData {
    return {
      task: this.task,
      args: [...this.args],
      kwargs: { ...this.kwargs },
      options: { ...this.options },
      subtaskType: this.subtaskType,
      immutable: this.immutable,
    };
  }

  /** Rebuilds a signature from its dict form. */
  static fromData<R = unknown>(data: SignatureData): Signature<R> {
    return new Signature<R>({
      task: data.task,
      args: data.args,
      kwargs: data.kwargs,
      options: data.options,
      immutable: data.immutable,
      subtaskType: data.subtaskType,
    });
  }
}
