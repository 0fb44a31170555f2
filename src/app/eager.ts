/**
 * Eager execution: running a task in this process (`task.apply()`, `taskAlwaysEager`),
 * with a real context and an AsyncResult that is ready at once.
 */
import type { ResultBackend } from '../backend/types.js';
import { exceptionInfoFromError } from '../protocol/exception.js';
import { toNaiveUtcIso } from '../protocol/time.js';
import type { TaskMeta } from '../protocol/types.js';
import { uuid } from '../util/ids.js';
import { AsyncResult } from './async-result.js';
import type { TaskDefinition } from './task.js';
import type { TaskRequest } from './task-types.js';
import { trace } from './trace.js';

/** What eager runs need from the app. */
export interface EagerHost {
  readonly conf: { readonly taskEagerPropagates: boolean; readonly taskStoreEagerResult: boolean };
  readonly origin: string;
  now(): number;
  maybeBackend(): Promise<ResultBackend | null>;
}

/** The request an eager run sees. */
export function eagerRequest(
  def: TaskDefinition,
  args: unknown[],
  kwargs: Record<string, unknown>,
  id = uuid(),
): TaskRequest {
  return {
    id,
    task: def.name,
    args,
    kwargs,
    retries: 0,
    hostname: null,
    deliveryInfo: { exchange: '', routingKey: '', priority: null, redelivered: false },
    eta: null,
    expires: null,
    parentId: null,
    rootId: id,
    group: null,
    groupIndex: null,
    correlationId: id,
    replyTo: null,
    origin: null,
    isEager: true,
    timeLimit: [def.options.timeLimit, def.options.softTimeLimit],
    ignoreResult: false,
    headers: {},
  };
}

/** Runs the task now and returns a ready AsyncResult. */
export async function applyLocal(
  host: EagerHost,
  def: TaskDefinition,
  args: unknown[],
  kwargs: Record<string, unknown>,
): Promise<AsyncResult<unknown>> {
  const request = eagerRequest(def, args, kwargs);
  const outcome = await trace(def, request, {
    signal: new AbortController().signal,
    updateState: async () => {},
    warn: () => {},
    now: () => host.now(),
  });
  const base = { taskId: request.id, children: [], dateDone: toNaiveUtcIso(host.now()) };
  let meta: TaskMeta;
  switch (outcome.kind) {
    case 'success':
      meta = { ...base, status: 'SUCCESS', result: outcome.value, traceback: null };
      break;
    case 'failure':
    case 'retry':
      if (host.conf.taskEagerPropagates) throw outcome.error;
      meta = {
        ...base,
        status: 'FAILURE',
        result: exceptionInfoFromError(outcome.error),
        traceback: outcome.traceback,
      };
      break;
    case 'reject':
    case 'ignore':
      meta = { ...base, status: 'IGNORED', result: null, traceback: null, dateDone: null };
      break;
  }
  if (host.conf.taskStoreEagerResult) await (await host.maybeBackend())?.store(meta);
  return new AsyncResult(request.id, { backend: async () => fixedBackend(meta) });
}

/** A read-only backend that knows one meta: what an eager result reads from. */
function fixedBackend(meta: TaskMeta): ResultBackend {
  const get = async (id: string): Promise<TaskMeta | null> => (id === meta.taskId ? meta : null);
  return {
    kind: 'eager',
    displayUrl: 'eager://',
    connect: async () => {},
    store: async () => {},
    get,
    getMany: async (ids) => Promise.all(ids.map(get)),
    waitFor: async () => meta,
    forget: async () => {},
    saveGroup: async () => {},
    restoreGroup: async () => null,
    forgetGroup: async () => {},
    setChordSize: async () => {},
    chordPartCompleted: async () => ({ complete: false }),
    chordCleanup: async () => {},
    close: async () => {},
  };
}
