/**
 * The way of one delivery through a worker: strategy (decode, accept list, registry,
 * revoked, expired, redelivery cap, ETA), then execution through the pool, then results,
 * follow-up messages and the acknowledgement. Never throws: every problem ends in a logged,
 * settled message.
 */
import type { Celery } from '../app/celery.js';
import type { TaskDefinition } from '../app/task.js';
import type { Outcome } from '../app/trace.js';
import type { ResultBackend } from '../backend/types.js';
import { ContentDisallowedError, NotRegistered, TaskRevokedError, toError } from '../errors.js';
import { pyRepr } from '../protocol/repr.js';
import { decodeTaskMessage } from '../protocol/task-message.js';
import type { TaskMessage } from '../protocol/types.js';
import type { AcceptList } from '../serialization/index.js';
import type { Delivery, Transport } from '../transport/types.js';
import { LazyAbort } from '../util/abort.js';
import type { Logger } from '../util/logger.js';
import { deadLetter } from './dead-letter.js';
import { afterFinalState, sendErrbacks, sendRetry, sendSuccessFollowups } from './followups.js';
import { MetaWriter } from './meta.js';
import { fromPoolOutcome } from './pool/outcome.js';
import type { TaskSlots } from './pool/slots.js';
import type { Pool, PoolJob, PoolOutcome } from './pool/types.js';
import type { HeldTask, WorkerState } from './state.js';
import { taskRequest } from './task-request.js';
import type { TaskEventSink } from './task-events.js';

/** What the executor needs. */
export interface ExecutorDeps {
  app: Celery;
  transport: Transport;
  backend: ResultBackend | null;
  hostname: string;
  logger: Logger;
  state: WorkerState;
  accept: AcceptList;
  pool: Pool;
  /** Task slots: a task waits here for a free slot before it starts (and is acked early). */
  slots: TaskSlots;
  events: TaskEventSink;
}

/** Handles deliveries. */
export class Executor {
  readonly #d: ExecutorDeps;
  readonly #meta: MetaWriter;

  constructor(deps: ExecutorDeps) {
    this.#d = deps;
    this.#meta = new MetaWriter(deps.app, deps.backend, deps.hostname, deps.logger);
  }

  /** Takes a delivery through its whole way. */
  handle(delivery: Delivery): Promise<void> {
    // Not async: one promise (the .then) where an async wrapper made two.
    return this.#handle(delivery).then(undefined, async (error: unknown) => {
      // A failure of our own (broker or backend down mid-way): give the message back.
      this.#d.logger.error(
        `Unrecoverable error while handling a message; it was requeued: ${toError(error).message}`,
        error,
      );
      await delivery.reject(true).catch(() => {});
    });
  }

  /**
   * A message the transport could not read as a broker message (ConsumeOptions.onMalformed):
   * moved to the dead-letter queue with the reason, logged. Never throws; when the move
   * fails the message is requeued.
   */
  async moveAside(delivery: Delivery, error: Error): Promise<void> {
    const dlq = this.#d.app.conf.taskDeadLetterQueue;
    try {
      await deadLetter(this.#d.app, delivery, error.message);
      this.#d.logger.error(`${error.message}. It was moved to the dead-letter queue '${dlq}'.`);
    } catch (failure) {
      this.#d.logger.error(
        `${error.message}. Moving it to the dead-letter queue '${dlq}' failed, so it was requeued: ${toError(failure).message}`,
        failure,
      );
      await delivery.reject(true).catch(() => {});
    }
  }

  async #handle(delivery: Delivery): Promise<void> {
    const { logger, state, app } = this.#d;
    const dlq = app.conf.taskDeadLetterQueue;
    let message: TaskMessage;
    try {
      message = decodeTaskMessage(delivery.message, this.#d.accept);
    } catch (error) {
      const err = toError(error);
      await deadLetter(app, delivery, err.message);
      logger.error(
        err instanceof ContentDisallowedError
          ? `${err.message}. The message was moved to the dead-letter queue '${dlq}'.`
          : `Received an invalid task message (${err.message}). It was moved to the dead-letter queue '${dlq}'.`,
      );
      return;
    }
    const label = `${message.shadow ?? message.task}[${message.id}]`;
    if (delivery.deliveryCount >= app.conf.taskMaxRedeliveries) {
      const reason = `delivered ${delivery.deliveryCount + 1} times without completing (taskMaxRedeliveries is ${app.conf.taskMaxRedeliveries})`;
      await deadLetter(app, delivery, reason);
      logger.error(`Task ${label} was ${reason}; moved to the dead-letter queue '${dlq}'.`);
      return;
    }
    const def = app.tasks.get(message.task);
    if (!def || !def.local) {
      logger.error(
        `Received unregistered task of type '${message.task}'.\nThe message has been ignored and discarded.\n\n` +
          `Did you remember to import the module containing this task?\nOr maybe you're using relative imports?\n` +
          `The full contents of the message body was: ${message.argsrepr} ${message.kwargsrepr} (task id ${message.id})`,
      );
      const error = new NotRegistered(message.task);
      await this.#meta.failure(message, error, null, delivery);
      this.#d.events.failed(message, error, null);
      await delivery.ack();
      return;
    }
    const now = app.now();
    const expired = message.expires !== null && message.expires <= now;
    if (expired || state.revoked.has(message.id)) {
      logger.info(`Discarding ${expired ? 'expired' : 'revoked'} task: ${label}`);
      await this.#revoke(message, delivery, { expired, terminated: false, signum: null });
      return;
    }
    if (
      message.eta !== null &&
      message.eta > now &&
      this.#d.transport.capabilities.delayedDelivery
    ) {
      logger.info(
        `Task ${label} received (eta ${new Date(message.eta).toISOString()}): waiting in the broker until due`,
      );
      await delivery.defer(message.eta);
      state.park(heldTask(message, delivery, now));
      return;
    }
    if (logger.isEnabled('INFO')) logger.info(`Task ${label} received`);
    this.#d.events.received(message);
    if (state.parked.size > 0) state.parked.delete(message.id); // due: it came back
    const held = heldTask(message, delivery, now);
    state.held.set(message.id, held);
    try {
      await this.#execute(def, held, label);
    } finally {
      state.held.delete(message.id);
    }
  }

  async #execute(def: TaskDefinition, held: HeldTask, label: string): Promise<void> {
    const { app, logger, state } = this.#d;
    const { message, delivery } = held;
    const acksLate = def.options.acksLate ?? app.conf.taskAcksLate;
    const limits = state.timeLimits.get(def.name);
    // No await (no promise, no tick) for a task without a rate limit: the common case.
    const rate = def.options.rateLimit ?? app.conf.taskDefaultRateLimit;
    if (!app.conf.workerDisableRateLimits && state.rateLimits.limited(def.name, rate))
      await state.rateLimits.acquire(def.name, rate, held.abort.signal);
    // A free slot is taken at once (no promise, no tick); else the task waits for one.
    const waiting = this.#d.slots.enter();
    if (waiting) await waiting;
    let result: PoolOutcome | 'skipped';
    try {
      if (!state.accepting || held.abort.aborted || state.revoked.has(message.id)) {
        result = 'skipped'; // the worker is stopping, or the task was revoked meanwhile
      } else {
        const ready = this.#start(def, held, acksLate); // a promise only when there is a wait
        if (ready) await ready;
        result = await this.#d.pool.run(this.#job(def, held, limits));
      }
    } finally {
      this.#d.slots.leave();
    }
    // The task ended: its prefetch slot may be reused while its result is stored (the ack
    // still waits for the store).
    if (result !== 'skipped') delivery.finished?.();
    if (result === 'skipped') {
      if (state.revoked.has(message.id)) {
        logger.info(`Discarding revoked task: ${label}`);
        await this.#revoke(message, delivery, { expired: false, terminated: false, signum: null });
      } else {
        held.acknowledged = true;
        await delivery.reject(true);
      }
      return;
    }
    await this.#settle(def, held, result, acksLate, label);
  }

  /**
   * Marks the task started: acks it first when it is acked early, stores STARTED when tracked.
   * Returns a promise only when one of those makes it wait.
   */
  #start(def: TaskDefinition, held: HeldTask, acksLate: boolean): Promise<void> | undefined {
    const { app } = this.#d;
    const { message, delivery } = held;
    held.startedAt = app.now();
    const tracked = def.options.trackStarted ?? app.conf.taskTrackStarted;
    if (acksLate && !tracked) {
      this.#d.events.started(message);
      return undefined;
    }
    return (async () => {
      if (!acksLate) {
        await delivery.ack();
        held.acknowledged = true;
      }
      this.#d.events.started(message);
      if (tracked) await this.#meta.started(message, delivery);
    })();
  }

  /** The pool job of a task. */
  #job(
    def: TaskDefinition,
    held: HeldTask,
    limits: { soft: number | null; hard: number | null } | undefined,
  ): PoolJob {
    const { app } = this.#d;
    const { message, delivery } = held;
    return {
      taskName: def.name,
      request: taskRequest(message, delivery, this.#d.hostname),
      softTimeLimit:
        message.timeLimit[1] ??
        limits?.soft ??
        def.options.softTimeLimit ??
        app.conf.taskSoftTimeLimit,
      hardTimeLimit:
        message.timeLimit[0] ?? limits?.hard ?? def.options.timeLimit ?? app.conf.taskTimeLimit,
      onState: async (status, meta) => {
        await this.#meta.custom(message, status, meta, delivery);
      },
      onStart: (pid) => {
        held.workerPid = pid;
      },
    };
  }

  async #settle(
    def: TaskDefinition,
    held: HeldTask,
    result: PoolOutcome,
    acksLate: boolean,
    label: string,
  ): Promise<void> {
    const { app, logger, state, events } = this.#d;
    const { message, delivery } = held;
    if (held.acknowledged && acksLate && held.abort.aborted) {
      // The worker stopped and already handed this message back; the pool's outcome is moot.
      return;
    }
    if (result.kind === 'failure' && result.cause === 'worker-lost') {
      const requeue =
        (def.options.rejectOnWorkerLost ?? app.conf.taskRejectOnWorkerLost) && acksLate;
      if (requeue && !held.acknowledged) {
        logger.error(
          `Task ${label}: the process running it died; the message was requeued (rejectOnWorkerLost)`,
        );
        events.rejected(message, true);
        await delivery.reject(true);
        return;
      }
    }
    // A revoke --terminate of a started task ends it REVOKED, as Celery's kill does, also when
    // the task saw its signal abort and returned (or threw) by itself within the grace period.
    const terminated =
      (result.kind === 'failure' && result.cause === 'terminated') ||
      (held.terminateSignal !== undefined && held.startedAt !== null);
    if (terminated) {
      logger.info(`Task ${label} terminated`);
      const signum = held.terminateSignal ?? 15;
      await this.#revoke(message, delivery, { expired: false, terminated: true, signum }, held);
      return;
    }
    const outcome: Outcome = fromPoolOutcome(result, message.id);
    const ignoreResult =
      message.ignoreResult || (def.options.ignoreResult ?? app.conf.taskIgnoreResult);
    switch (outcome.kind) {
      case 'success': {
        // A plain task (no callbacks, chain or chord) skips the follow-up steps entirely.
        const embed = message.embed;
        const children =
          embed.callbacks || embed.chain
            ? await sendSuccessFollowups(app, message, outcome.value)
            : [];
        const meta = ignoreResult
          ? null
          : await this.#meta.success(message, outcome.value, children, delivery);
        if (embed.chord) await afterFinalState(app, this.#d.backend, message, meta, outcome.value);
        if (logger.isEnabled('INFO'))
          logger.info(
            `Task ${label} succeeded in ${formatRuntime(outcome.runtime)}s: ${pyRepr(outcome.value)}`,
          );
        events.succeeded(message, outcome.value, outcome.runtime);
        break;
      }
      case 'failure': {
        const storeErrors =
          !(def.options.ignoreResult ?? app.conf.taskIgnoreResult) ||
          app.conf.taskStoreErrorsEvenIfIgnored;
        const meta = storeErrors
          ? await this.#meta.failure(message, outcome.error, outcome.traceback, delivery)
          : null;
        await sendErrbacks(app, message);
        await afterFinalState(app, this.#d.backend, message, meta, outcome.error);
        logger.error(
          `Task ${label} raised unexpected: ${outcome.error.name}(${pyRepr(outcome.error.message)})`,
          outcome.error,
        );
        events.failed(message, outcome.error, outcome.traceback);
        break;
      }
      case 'retry': {
        await sendRetry(app, message, delivery.queue, outcome.countdown, outcome.retry);
        await this.#meta.retry(message, outcome.error, outcome.traceback, delivery);
        logger.info(
          `Task ${label} retry: Retry in ${Math.round(outcome.countdown)}s: ${outcome.error.name}(${pyRepr(outcome.error.message)})`,
        );
        events.retried(message, outcome.error, outcome.traceback);
        break;
      }
      case 'reject':
        logger.info(
          `Task ${label} rejected: ${outcome.reason}${outcome.requeue ? ' (requeued)' : ''}`,
        );
        state.countDone(message.task);
        // As Celery: task-rejected only for a message not acknowledged yet (acks late); one
        // acknowledged at start has nothing left to reject.
        if (!held.acknowledged) {
          events.rejected(message, outcome.requeue);
          await delivery.reject(outcome.requeue);
        }
        return;
      case 'ignore':
        break;
    }
    state.countDone(message.task);
    if (acksLate && !held.acknowledged) await delivery.ack();
  }

  async #revoke(
    message: TaskMessage,
    delivery: Delivery,
    reason: { expired: boolean; terminated: boolean; signum: number | null },
    held?: HeldTask,
  ): Promise<void> {
    const text = reason.expired ? 'expired' : reason.terminated ? 'terminated' : 'revoked';
    const meta = await this.#meta.revoked(message, new TaskRevokedError(text), delivery);
    await afterFinalState(this.#d.app, this.#d.backend, message, meta, null);
    this.#d.events.revoked(message, reason);
    if (!held?.acknowledged) await delivery.ack();
  }
}

/** Seconds as Celery prints them (`0.001234s`). */
function formatRuntime(seconds: number): string {
  return String(Math.round(seconds * 1e6) / 1e6);
}

function heldTask(message: TaskMessage, delivery: Delivery, now: number): HeldTask {
  return {
    message,
    delivery,
    receivedAt: now,
    startedAt: null,
    acknowledged: false,
    workerPid: null,
    abort: new LazyAbort(),
  };
}
