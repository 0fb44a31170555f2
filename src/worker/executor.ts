/**
 * The way of one delivery through a worker: strategy (decode, accept list, registry,
 * revoked, expired, redelivery cap, ETA), then execution through the pool and the tracer,
 * then results, follow-up messages and the acknowledgement. Never throws: every problem
 * ends in a logged, settled message.
 */
import type { Celery } from '../app/celery.js';
import type { TaskDefinition } from '../app/task.js';
import { trace, type Outcome } from '../app/trace.js';
import type { ResultBackend } from '../backend/types.js';
import {
  ContentDisallowedError,
  NotRegistered,
  SoftTimeLimitExceeded,
  TaskRevokedError,
  toError,
} from '../errors.js';
import { pyRepr } from '../protocol/repr.js';
import { decodeTaskMessage } from '../protocol/task-message.js';
import type { TaskMessage } from '../protocol/types.js';
import type { AcceptList } from '../serialization/index.js';
import type { Delivery, Transport } from '../transport/types.js';
import type { Logger } from '../util/logger.js';
import { deadLetter } from './dead-letter.js';
import { sendErrbacks, sendRetry, sendSuccessFollowups } from './followups.js';
import { MetaWriter } from './meta.js';
import type { HeldTask, WorkerState } from './state.js';
import { taskRequest } from './task-request.js';

/** What the executor needs. */
export interface ExecutorDeps {
  app: Celery;
  transport: Transport;
  backend: ResultBackend | null;
  hostname: string;
  logger: Logger;
  state: WorkerState;
  accept: AcceptList;
  /** Runs `fn` when a slot is free (the pool). */
  run<T>(fn: () => Promise<T>): Promise<T>;
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
  async handle(delivery: Delivery): Promise<void> {
    try {
      await this.#handle(delivery);
    } catch (error) {
      // A failure of our own (broker or backend down mid-way): give the message back.
      this.#d.logger.error(
        `Unrecoverable error while handling a message; it was requeued: ${toError(error).message}`,
        error,
      );
      await delivery.reject(true).catch(() => {});
    }
  }

  async #handle(delivery: Delivery): Promise<void> {
    const { logger, state, app } = this.#d;
    let message: TaskMessage;
    try {
      message = decodeTaskMessage(delivery.message, this.#d.accept);
    } catch (error) {
      const err = toError(error);
      if (err instanceof ContentDisallowedError) {
        logger.error(
          `${err.message}. The message was moved to the dead-letter queue '${app.conf.taskDeadLetterQueue}'.`,
        );
      } else {
        logger.error(
          `Received an invalid task message (${err.message}). It was moved to the dead-letter queue '${app.conf.taskDeadLetterQueue}'.`,
        );
      }
      await deadLetter(app, delivery, err.message);
      return;
    }
    const label = `${message.shadow ?? message.task}[${message.id}]`;
    if (delivery.deliveryCount >= app.conf.taskMaxRedeliveries) {
      const reason = `delivered ${delivery.deliveryCount + 1} times without completing (taskMaxRedeliveries is ${app.conf.taskMaxRedeliveries})`;
      logger.error(
        `Task ${label} was ${reason}; moved to the dead-letter queue '${app.conf.taskDeadLetterQueue}'.`,
      );
      await deadLetter(app, delivery, reason);
      return;
    }
    const def = app.tasks.get(message.task);
    if (!def || !def.local) {
      const error = new NotRegistered(message.task);
      logger.error(
        `Received unregistered task of type '${message.task}'.\nThe message has been ignored and discarded.\n\n` +
          `Did you remember to import the module containing this task?\nOr maybe you're using relative imports?\n` +
          `The full contents of the message body was: ${message.argsrepr} ${message.kwargsrepr} (task id ${message.id})`,
      );
      await this.#meta.failure(message, error, null, delivery);
      await delivery.ack();
      return;
    }
    const now = app.now();
    if (state.revoked.has(message.id) || (message.expires !== null && message.expires <= now)) {
      const expired = !state.revoked.has(message.id);
      logger.info(`Discarding ${expired ? 'expired' : 'revoked'} task: ${label}`);
      await this.#meta.revoked(
        message,
        new TaskRevokedError(expired ? 'expired' : 'revoked'),
        delivery,
      );
      await delivery.ack();
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
      return;
    }
    logger.info(`Task ${label} received`);
    const held: HeldTask = {
      message,
      delivery,
      receivedAt: now,
      startedAt: null,
      acknowledged: false,
      abort: new AbortController(),
    };
    state.held.set(message.id, held);
    try {
      if (message.eta !== null && message.eta > app.now()) {
        await new Promise((r) => setTimeout(r, message.eta! - app.now()));
      }
      await this.#d.run(() => this.#execute(def, held));
    } finally {
      state.held.delete(message.id);
    }
  }

  async #execute(def: TaskDefinition, held: HeldTask): Promise<void> {
    const { app, logger, state } = this.#d;
    const { message, delivery } = held;
    const label = `${message.shadow ?? message.task}[${message.id}]`;
    if (held.abort.signal.aborted) {
      // Shutting down before it started: hand the message back at once.
      held.acknowledged = true;
      await delivery.reject(true);
      return;
    }
    if (state.revoked.has(message.id)) {
      logger.info(`Discarding revoked task: ${label}`);
      await this.#meta.revoked(message, new TaskRevokedError('revoked'), delivery);
      await delivery.ack();
      return;
    }
    const acksLate = def.options.acksLate ?? app.conf.taskAcksLate;
    held.startedAt = app.now();
    if (!acksLate) {
      await delivery.ack();
      held.acknowledged = true;
    }
    if (def.options.trackStarted ?? app.conf.taskTrackStarted)
      await this.#meta.started(message, delivery);
    const request = taskRequest(message, delivery, this.#d.hostname);
    const softLimit = message.timeLimit[1] ?? def.options.softTimeLimit;
    const softTimer = softLimit
      ? setTimeout(() => held.abort.abort(new SoftTimeLimitExceeded(softLimit)), softLimit * 1000)
      : undefined;
    let outcome: Outcome;
    try {
      outcome = await trace(def, request, {
        signal: held.abort.signal,
        updateState: (status, meta) => this.#meta.custom(message, status, meta, delivery),
        warn: (text, error) => logger.warning(`${text} for ${label}`, error),
        now: () => app.now(),
      });
    } finally {
      if (softTimer) clearTimeout(softTimer);
    }
    await this.#settle(def, held, outcome, acksLate, label);
  }

  async #settle(
    def: TaskDefinition,
    held: HeldTask,
    outcome: Outcome,
    acksLate: boolean,
    label: string,
  ): Promise<void> {
    const { app, logger, state } = this.#d;
    const { message, delivery } = held;
    const ignoreResult =
      message.ignoreResult || (def.options.ignoreResult ?? app.conf.taskIgnoreResult);
    switch (outcome.kind) {
      case 'success': {
        const children = await sendSuccessFollowups(app, message, outcome.value);
        if (!ignoreResult) await this.#meta.success(message, outcome.value, children, delivery);
        logger.info(
          `Task ${label} succeeded in ${outcome.runtime.toFixed(6).replace(/0{1,3}$/, '')}s: ${pyRepr(outcome.value)}`,
        );
        break;
      }
      case 'failure': {
        const storeErrors =
          !(def.options.ignoreResult ?? app.conf.taskIgnoreResult) ||
          app.conf.taskStoreErrorsEvenIfIgnored;
        if (storeErrors)
          await this.#meta.failure(message, outcome.error, outcome.traceback, delivery);
        await sendErrbacks(app, message);
        logger.error(
          `Task ${label} raised unexpected: ${outcome.error.name}(${pyRepr(outcome.error.message)})`,
          outcome.error,
        );
        break;
      }
      case 'retry': {
        await sendRetry(app, message, delivery.queue, outcome.countdown, outcome.retry);
        await this.#meta.retry(message, outcome.error, outcome.traceback, delivery);
        logger.info(
          `Task ${label} retry: Retry in ${Math.round(outcome.countdown)}s: ${outcome.error.name}(${pyRepr(outcome.error.message)})`,
        );
        break;
      }
      case 'reject':
        logger.info(
          `Task ${label} rejected: ${outcome.reason}${outcome.requeue ? ' (requeued)' : ''}`,
        );
        if (!held.acknowledged) await delivery.reject(outcome.requeue);
        state.countDone(message.task);
        return;
      case 'ignore':
        break;
    }
    state.countDone(message.task);
    if (acksLate && !held.acknowledged) await delivery.ack();
  }
}
