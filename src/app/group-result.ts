/**
 * Results of many tasks: ResultSet (any results) and GroupResult (a group's, with its id;
 * it can be saved to and restored from the result backend as Celery does, spec §d.1).
 * Also: building result handles from Celery's result tuples (spec §d.2) and from a canvas
 * plan's results.
 */
import type { ResultBackend } from '../backend/types.js';
import type { Control } from '../control/control.js';
import type { ResultNode } from '../canvas/plan/results.js';
import { CeleriacError } from '../errors.js';
import type { ResultTuple } from '../protocol/types.js';
import { AsyncResult, type GetOptions, type ResultHost, type ResultLike } from './async-result.js';

declare module '../canvas/types.js' {
  /** Applying a canvas gives back an AsyncResult, or a GroupResult for a group. */
  interface ResultHandles<R> {
    single: AsyncResult<R>;
    group: GroupResult<R extends readonly unknown[] ? R : unknown[]>;
  }
}

/** The task ids of results, nested groups included. */
function collectIds(results: readonly ResultLike[]): string[] {
  return results.flatMap((r) => (r instanceof ResultSet ? collectIds(r.results) : [r.id]));
}

/** A set of results, in order (Celery's ResultSet). */
export class ResultSet<R extends readonly unknown[] = unknown[]> {
  readonly results: readonly ResultLike[];
  protected readonly host: ResultHost;

  constructor(results: readonly ResultLike[], host: ResultHost) {
    this.results = results;
    this.host = host;
  }

  /** How many results there are. */
  get length(): number {
    return this.results.length;
  }

  /** True when every result is ready (SUCCESS, FAILURE or REVOKED). */
  async ready(): Promise<boolean> {
    return (await Promise.all(this.results.map((r) => r.ready()))).every(Boolean);
  }

  /** True when every task succeeded. */
  async successful(): Promise<boolean> {
    return (await Promise.all(this.results.map((r) => r.successful()))).every(Boolean);
  }

  /** True when any task failed. */
  async failed(): Promise<boolean> {
    return (await Promise.all(this.results.map((r) => r.failed()))).some(Boolean);
  }

  /** True when any result is not ready yet. */
  async waiting(): Promise<boolean> {
    return !(await this.ready());
  }

  /** How many tasks succeeded (Celery's `completed_count()`). */
  async completedCount(): Promise<number> {
    return (await Promise.all(this.results.map((r) => r.successful()))).filter(Boolean).length;
  }

  /**
   * Waits for every result and returns the values in order (Celery's `join()`). With
   * `propagate` (default) it rejects with the error of the first failed task in order;
   * `timeout` (seconds) bounds the whole wait.
   */
  async join(options: GetOptions = {}): Promise<R> {
    const waits = this.results.map((r) => r.get(options));
    for (const w of waits) w.catch(() => undefined);
    const values: unknown[] = [];
    for (const w of waits) values.push(await w);
    return values as unknown as R;
  }

  /** Same as {@link join}. */
  get(options: GetOptions = {}): Promise<R> {
    return this.join(options);
  }

  /** Removes every stored result. */
  async forget(): Promise<void> {
    await Promise.all(this.results.map((r) => r.forget()));
  }

  /**
   * Revokes every task of the set (Celery's `revoke()`) through the app's remote control:
   * workers skip them when they arrive, and with `terminate` stop the running ones.
   * @throws CeleriacError when the results were not made by an app (no remote control).
   */
  async revoke(
    options: Parameters<Control['revoke']>[1] = {},
  ): Promise<Awaited<ReturnType<Control['revoke']>>> {
    const control = this.host.control;
    if (!control) {
      throw new CeleriacError('CONFIG_INVALID', 'These results have no app to revoke with', {
        hint: 'use results from app.GroupResult(id, ids) or from applying a canvas, or app.control.revoke(ids)',
      });
    }
    return control.revoke(collectIds(this.results), options);
  }
}

/** The results of a group, with the group's id (Celery's GroupResult). */
export class GroupResult<R extends readonly unknown[] = unknown[]>
  extends ResultSet<R>
  implements ResultLike
{
  readonly id: string;
  readonly parent: ResultLike | null;

  constructor(
    id: string,
    results: readonly ResultLike[],
    host: ResultHost,
    parent: ResultLike | null = null,
  ) {
    super(results, host);
    this.id = id;
    this.parent = parent;
  }

  /** Celery's `as_tuple()`: `[[group id, parent tuple or null], [member tuples]]`. */
  asTuple(): ResultTuple {
    return [
      [this.id, this.parent ? this.parent.asTuple() : null],
      this.results.map((r) => r.asTuple()),
    ];
  }

  /** Stores the group (`celery-taskset-meta-<id>` on Redis) so it can be restored by id. */
  async save(): Promise<void> {
    const backend: ResultBackend = await this.host.backend();
    await backend.saveGroup(this.id, this.asTuple());
  }

  /** Removes the saved group and every member's result. */
  override async forget(): Promise<void> {
    const backend = await this.host.backend();
    await backend.forgetGroup(this.id);
    await super.forget();
  }

  /** A group saved with {@link save} (by us or by Python), or null when none is stored. */
  static async restore(id: string, host: ResultHost): Promise<GroupResult | null> {
    const backend = await host.backend();
    const tuple = await backend.restoreGroup(id);
    const result = tuple === null ? null : resultFromTuple(tuple, host);
    return result instanceof GroupResult ? result : null;
  }

  override toString(): string {
    return this.id;
  }
}

/**
 * A result handle from Celery's result tuple: `[[id, parent], null]` is an AsyncResult,
 * `[[id, parent], [children]]` a GroupResult. Null when the value is not a result tuple.
 */
export function resultFromTuple(tuple: unknown, host: ResultHost): ResultLike | null {
  if (!Array.isArray(tuple) || tuple.length < 2) return null;
  const [head, nodes] = tuple as [unknown, unknown];
  let id: unknown = head;
  let parentTuple: unknown = null;
  if (Array.isArray(head)) [id, parentTuple] = head as [unknown, unknown];
  if (typeof id !== 'string') return null;
  const parent = parentTuple ? resultFromTuple(parentTuple, host) : null;
  if (Array.isArray(nodes)) {
    const members = nodes.map((n) => resultFromTuple(n, host)).filter((r) => r !== null);
    return new GroupResult(id, members, host, parent);
  }
  return new AsyncResult(id, host, parent);
}

/** Result handles for a canvas plan's results (parents shared as planned). */
export function resultFromNode(node: ResultNode, host: ResultHost): ResultLike {
  const made = new Map<ResultNode, ResultLike>();
  const build = (n: ResultNode): ResultLike => {
    const known = made.get(n);
    if (known) return known;
    const parent = n.parent ? build(n.parent) : null;
    const handle =
      n.kind === 'task'
        ? new AsyncResult(n.id, host, parent)
        : new GroupResult(n.id, n.results.map(build), host, parent);
    made.set(n, handle);
    return handle;
  };
  return build(node);
}
