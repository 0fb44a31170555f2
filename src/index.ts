/**
 * celeriac: Celery for TypeScript.
 *
 * @example
 * import { Celery } from 'celeriac';
 * export const app = new Celery('tasks');
 * export const add = app.task((x: number, y: number) => x + y, { name: 'tasks.add' });
 */
export { Celery, type CeleryOptions } from './app/celery.js';
export { AsyncResult, type GetOptions, type ResultLike } from './app/async-result.js';
export { GroupResult, ResultSet } from './app/group-result.js';
export { BaseTask, type TaskDefinition, type TaskHooks } from './app/task.js';
export type {
  AnyTask,
  ApplyOptions,
  ResolvedTaskOptions,
  Task,
  TaskArgs,
  TaskContext,
  TaskOptions,
  TaskRequest,
  TaskResult,
} from './app/task-types.js';
export { SETTINGS, type Settings, type SettingsInput } from './app/settings.js';
export { Signature, type AnySignature, type SignatureOptions } from './canvas/signature.js';
export { chain } from './canvas/chain.js';
export { chord, group, type InputOf, type ResultOf, type ResultsOf } from './canvas/group.js';
export { chunks, xmap, xstarmap } from './canvas/map.js';
export type { ResultKind } from './canvas/types.js';
export { Worker, type WorkerOptions } from './worker/worker.js';
export type { Liveness, LivenessOptions } from './worker/liveness.js';
export {
  Control,
  type BroadcastOptions,
  type CommandOptions,
  type Replies,
  type StatusReplies,
} from './control/control.js';
export { Inspect, type ByNode, type InspectOptions, type TaskQuery } from './control/inspect.js';
export { EventDispatcher, type EventDispatcherOptions } from './events/dispatcher.js';
export { EventReceiver, type EventReceiverOptions } from './events/receiver.js';
export { ClusterState, isAlive, type TaskInfo, type WorkerInfo } from './events/state.js';
export type { CeleryEvent, OtherEvent, TaskEvent, WorkerEvent } from './protocol/event.js';
export type {
  QueueInfo,
  RequestInfo,
  ScheduledInfo,
  WorkerStats,
} from './protocol/pidbox-replies.js';
export * from './errors.js';
export type { State, TaskMeta } from './protocol/types.js';
export type { Transport } from './transport/types.js';
export type { ResultBackend } from './backend/types.js';
