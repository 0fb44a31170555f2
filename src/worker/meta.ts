/**
 * Writes task states to the result backend in Celery's shapes (spec §d.1, §d.3).
 */
import type { Celery } from '../app/celery.js';
import type { ResultBackend } from '../backend/types.js';
import { exceptionInfoFromError } from '../protocol/exception.js';
import type { State, TaskMessage, TaskMeta } from '../protocol/types.js';
import type { Delivery } from '../transport/types.js';
import { IsoUtcFormatter } from '../serialization/isodate.js';
import type { Logger } from '../util/logger.js';

/** Stores metas for one worker. */
export class MetaWriter {
  /** date_done's formatting, with the current second kept. */
  readonly #dates = new IsoUtcFormatter();

  constructor(
    readonly app: Celery,
    readonly backend: ResultBackend | null,
    readonly hostname: string,
    readonly logger: Logger,
  ) {}

  success(
    message: TaskMessage,
    value: unknown,
    children: unknown[],
    delivery: Delivery,
  ): Promise<TaskMeta | null> {
    return this.#store(message, 'SUCCESS', value, null, delivery, children, true);
  }

  failure(
    message: TaskMessage,
    error: Error,
    traceback: string | null,
    delivery: Delivery,
  ): Promise<TaskMeta | null> {
    return this.#store(
      message,
      'FAILURE',
      exceptionInfoFromError(error),
      traceback,
      delivery,
      [],
      true,
    );
  }

  retry(
    message: TaskMessage,
    error: Error,
    traceback: string,
    delivery: Delivery,
  ): Promise<TaskMeta | null> {
    const child = [[message.id, null], null];
    return this.#store(
      message,
      'RETRY',
      exceptionInfoFromError(error),
      traceback,
      delivery,
      [child],
      false,
    );
  }

  revoked(message: TaskMessage, error: Error, delivery: Delivery): Promise<TaskMeta | null> {
    return this.#store(message, 'REVOKED', exceptionInfoFromError(error), null, delivery, [], true);
  }

  started(message: TaskMessage, delivery: Delivery): Promise<TaskMeta | null> {
    return this.#store(
      message,
      'STARTED',
      { pid: process.pid, hostname: this.hostname },
      null,
      delivery,
      [],
      false,
    );
  }

  custom(
    message: TaskMessage,
    state: string,
    meta: unknown,
    delivery: Delivery,
  ): Promise<TaskMeta | null> {
    return this.#store(message, state, meta, null, delivery, [], false);
  }

  #store(
    message: TaskMessage,
    status: State,
    result: unknown,
    traceback: string | null,
    delivery: Delivery,
    children: unknown[],
    ready: boolean,
  ): Promise<TaskMeta | null> {
    if (!this.backend) return Promise.resolve(null);
    const meta: TaskMeta = {
      taskId: message.id,
      status,
      result,
      traceback,
      children,
      dateDone: ready ? this.#dates.format(this.app.now(), '') : null, // naive UTC
    };
    if (message.group) meta.groupId = message.group;
    if (message.parentId) meta.parentId = message.parentId;
    if (this.app.conf.resultExtended) {
      meta.name = message.task;
      meta.args = message.args;
      meta.kwargs = message.kwargs;
      meta.worker = this.hostname;
      meta.retries = message.retries;
      meta.queue = delivery.routingKey;
    }
    // Not async: one promise per store (the .then), not two.
    return this.backend.store(meta, { expires: this.app.conf.resultExpires }).then(() => meta);
  }
}
