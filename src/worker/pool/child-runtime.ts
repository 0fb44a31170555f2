/**
 * The inside of a pool child (process or thread): loads the app module once, then runs the
 * jobs the parent sends, one at a time, through the tracer, and answers with plain-data
 * outcomes. Soft time limits are timers here (they abort the task's signal); hard limits
 * are the parent's business (it kills the child).
 */
import { loadApp } from '../../app/load-app.js';
import type { Celery } from '../../app/celery.js';
import type { TaskRequest } from '../../app/task-types.js';
import { trace } from '../../app/trace.js';
import {
  EncodeError,
  NotRegistered,
  SoftTimeLimitExceeded,
  TaskRevokedError,
  toError,
} from '../../errors.js';
import type { ChildInit, FromChild, ToChild, WireError } from './messages.js';
import { failureOf, fromWireError, toPoolOutcome, toWireError } from './outcome.js';
import type { PoolOutcome } from './types.js';

/** How a child talks to its parent. */
export interface ChildPort {
  /** Sends a message; throws when it cannot be cloned. `then` runs once it left. */
  send(message: FromChild, then?: () => void): void;
  /** Ends the child (the process, or the thread). */
  exit(code: number): void;
  /** The child's memory in bytes for max-memory-per-child (process: resident set; thread: its V8 heap). */
  memory(): number;
}

interface RunningJob {
  seq: number;
  controller: AbortController;
  softTimer: NodeJS.Timeout | undefined;
}

/** One child's state: its app and the job it runs. */
export class ChildRuntime {
  readonly #port: ChildPort;
  readonly #states = new Map<number, { resolve(): void; reject(error: Error): void }>();
  #app: Celery | undefined;
  #reportRss = false;
  #job: RunningJob | undefined;
  #stateSeq = 0;
  #exitWhenIdle = false;

  constructor(port: ChildPort) {
    this.#port = port;
  }

  /** Handles one message from the parent. Never throws. */
  handle(message: ToChild): void {
    switch (message.t) {
      case 'init':
        void this.#init(message);
        return;
      case 'run':
        void this.#run(message.seq, message.name, message.request, message.soft);
        return;
      case 'abort':
        if (this.#job?.seq === message.seq)
          this.#job.controller.abort(new TaskRevokedError('terminated'));
        return;
      case 'stated': {
        const waiter = this.#states.get(message.n);
        this.#states.delete(message.n);
        if (message.error) waiter?.reject(fromWireError(message.error));
        else waiter?.resolve();
        return;
      }
      case 'exit':
        if (this.#job) this.#exitWhenIdle = true;
        else this.#port.exit(0);
        return;
    }
  }

  /**
   * A promise rejection nobody handled (a task's stray promise): logged by the parent instead
   * of killing this child, and with it whatever task it runs now.
   */
  unhandledRejection(reason: unknown): void {
    const text = 'A promise rejection was not handled (the child keeps running)';
    this.#port.send({
      t: 'warn',
      seq: this.#job?.seq ?? 0,
      text,
      error: toWireError(toError(reason)),
    });
  }

  async #init(init: ChildInit): Promise<void> {
    this.#reportRss = init.reportRss;
    try {
      this.#app = await loadApp(init.appSpec, init.cwd);
    } catch (error) {
      this.#port.send({ t: 'fatal', error: toWireError(toError(error)) }, () => this.#port.exit(1));
      return;
    }
    this.#port.send({ t: 'ready', pid: process.pid });
  }

  async #run(seq: number, name: string, request: TaskRequest, soft: number | null): Promise<void> {
    const app = this.#app;
    const controller = new AbortController();
    const softTimer =
      soft !== null && soft > 0
        ? setTimeout(() => controller.abort(new SoftTimeLimitExceeded(soft)), soft * 1000)
        : undefined;
    this.#job = { seq, controller, softTimer };
    let outcome: PoolOutcome;
    try {
      const def = app?.tasks.get(name);
      if (!app || !def || !def.local) {
        outcome = failureOf(new NotRegistered(name), 0);
      } else {
        const traced = await trace(def, request, {
          signal: controller.signal,
          updateState: (state, meta) => this.#updateState(seq, state, meta),
          warn: (text, error) => this.#warn(seq, text, error),
          now: () => app.now(),
        });
        outcome = toPoolOutcome(traced);
      }
    } catch (error) {
      // trace() does not throw; a failure here is ours (e.g. converting the error).
      outcome = failureOf(toError(error), 0);
    } finally {
      clearTimeout(softTimer);
      this.#job = undefined;
    }
    // Asked to leave while running: go once the outcome has left.
    this.#finish(seq, name, outcome, this.#exitWhenIdle ? () => this.#port.exit(0) : undefined);
  }

  #finish(seq: number, name: string, outcome: PoolOutcome, then: (() => void) | undefined): void {
    const rss = this.#reportRss ? this.#port.memory() : 0;
    if (outcome.kind === 'success') outcome = { ...outcome, value: jsonReady(outcome.value, 0) };
    try {
      this.#port.send({ t: 'done', seq, outcome, rss }, then);
    } catch (error) {
      const reason = toError(error).message;
      const failure = new EncodeError(
        `The return value of ${name} cannot be sent to the worker: ${reason}`,
        {
          hint: 'return plain data (strings, numbers, booleans, null, arrays, plain objects, Dates)',
        },
      );
      this.#port.send({ t: 'done', seq, outcome: failureOf(failure, outcome.runtime), rss }, then);
    }
  }

  #updateState(seq: number, state: string, meta: unknown): Promise<void> {
    const n = ++this.#stateSeq;
    return new Promise<void>((resolve, reject) => {
      this.#states.set(n, { resolve, reject });
      try {
        this.#port.send({ t: 'state', seq, n, state, meta });
      } catch (error) {
        this.#states.delete(n);
        reject(
          new EncodeError(
            `updateState(${JSON.stringify(state)}) meta cannot be sent: ${toError(error).message}`,
          ),
        );
      }
    });
  }

  #warn(seq: number, text: string, error: unknown): void {
    const wire: WireError = toWireError(toError(error));
    this.#port.send({ t: 'warn', seq, text, error: wire });
  }
}

/**
 * Applies `toJSON()` the way the result encoder would (structured clone drops prototypes, so
 * an object with its own toJSON would otherwise arrive as a bag of fields). Plain data comes
 * back as the same object.
 */
function jsonReady(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null || depth > 64) return value;
  if (
    value instanceof Date ||
    ArrayBuffer.isView(value) ||
    value instanceof Map ||
    value instanceof Set
  )
    return value;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function')
    return jsonReady((toJSON as () => unknown).call(value), depth + 1);
  if (Array.isArray(value)) {
    const items = value as unknown[];
    let copy: unknown[] | undefined;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const ready = jsonReady(item, depth + 1);
      if (ready !== item) (copy ??= [...items])[i] = ready;
    }
    return copy ?? items;
  }
  let copy: Record<string, unknown> | undefined;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const item = record[key];
    const ready = jsonReady(item, depth + 1);
    if (ready !== item) (copy ??= { ...record })[key] = ready;
  }
  return copy ?? value;
}
