/**
 * The app: configuration, the task registry, and the client side (sending tasks, reading
 * results). A composition root: it builds the transport, backend and producer it uses.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ResultBackend } from '../backend/types.js';
import { Control } from '../control/control.js';
import { CeleriacError, ConfigError, DuplicateTaskError } from '../errors.js';
import { LamportClock } from '../events/clock.js';
import { EventDispatcher } from '../events/dispatcher.js';
import { toPythonIso } from '../protocol/time.js';
import type { TaskMessage } from '../protocol/types.js';
import type { Transport } from '../transport/types.js';
import { systemClock, type Clock } from '../util/clock.js';
import { clientNodeName, uuid } from '../util/ids.js';
import { Signature, type AnySignature } from '../canvas/signature.js';
import type { CanvasApp, ResultKind } from '../canvas/types.js';
import type { SignatureData } from '../protocol/types.js';
import { AsyncResult, type ResultHost, type ResultLike } from './async-result.js';
import { applyCanvas } from './canvas-apply.js';
import { registerCanvasBuiltins } from './canvas-builtins.js';
import { applyEager } from './canvas-eager.js';
import { GroupResult, resultFromTuple } from './group-result.js';
import { replaceTask } from './replace.js';
import {
  createBackend,
  createTransport,
  DEFAULT_SQLITE_URL,
  maskUrl,
  schemeOf,
} from './connections.js';
import { applyLocal, eagerRequest } from './eager.js';
import { bindKwargs, checkArity } from './params.js';
import { Producer, type ProducerHost } from './producer.js';
import type { Route } from './routing.js';
import {
  applySettings,
  defaultSettings,
  settingsFromEnv,
  type Settings,
  type SettingsInput,
} from './settings.js';
import {
  BaseTask,
  defineClassTask,
  defineFunctionTask,
  defineRemoteTask,
  makeHandle,
  type TaskDefinition,
  type TaskHost,
} from './task.js';
import type {
  AnyTask,
  ApplyOptions,
  Task,
  TaskArgs,
  TaskContext,
  TaskOptions,
  TaskRequest,
  TaskResult,
} from './task-types.js';
import { createContext } from './trace.js';

/** Options of the app object itself (not Celery settings). */
export interface CeleryOptions {
  /** Environment read for CELERY_BROKER_URL / CELERY_RESULT_BACKEND. Default process.env. */
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
}

/**
 * A celeriac app.
 *
 * @example
 * export const app = new Celery('tasks', { broker: 'redis://localhost:6379/0' });
 * export const add = app.task((x: number, y: number) => x + y, { name: 'tasks.add' });
 * const result = await add.delay(4, 4);
 * console.log(await result.get({ timeout: 10 })); // 8
 */
export class Celery implements TaskHost, ProducerHost, ResultHost, CanvasApp {
  readonly main: string;
  readonly contextStorage = new AsyncLocalStorage<TaskContext>();
  readonly origin = clientNodeName();
  readonly oid = uuid();
  readonly clock: Clock;
  /** The app's logical clock (spec §0.3): events and remote control messages move it. */
  readonly lamport = new LamportClock();
  #control: Control | undefined;
  #events: EventDispatcher | undefined;
  readonly #tasks = new Map<string, TaskDefinition>();
  readonly #env: NodeJS.ProcessEnv;
  #conf: Settings;
  #overrides: { broker?: string; backend?: string } = {};
  #transport: Promise<Transport> | undefined;
  #backend: Promise<ResultBackend | null> | undefined;
  #producer: Producer | undefined;
  #closed = false;

  constructor(main = 'celeriac', config: SettingsInput = {}, options: CeleryOptions = {}) {
    this.main = main;
    this.#env = options.env ?? process.env;
    this.clock = options.clock ?? systemClock;
    this.#conf = applySettings(defaultSettings(), config);
    registerCanvasBuiltins(this);
  }

  /** The settings in force (read-only view; change them with configure()). */
  get conf(): Readonly<Settings> {
    return this.#conf;
  }

  /** Applies more settings. Throws ConfigError for unknown keys or bad values. */
  configure(settings: SettingsInput | Record<string, unknown>): this {
    this.#conf = applySettings(this.#conf, settings);
    return this;
  }

  /** Loads settings from a module's exports (camelCase names, or Celery's Python names). */
  async configFromModule(path: string): Promise<this> {
    const mod = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
    const source = (mod.default && typeof mod.default === 'object' ? mod.default : mod) as Record<
      string,
      unknown
    >;
    return this.configure(source);
  }

  /** Overrides broker/backend URLs (CLI -b / --result-backend); wins over settings and env. */
  overrideUrls(urls: { broker?: string | undefined; backend?: string | undefined }): this {
    if (urls.broker) this.#overrides.broker = urls.broker;
    if (urls.backend) this.#overrides.backend = urls.backend;
    return this;
  }

  /** The broker URL in force: CLI override, then CELERY_BROKER_URL, then settings, then the embedded default. */
  get brokerUrl(): string {
    const env = settingsFromEnv(this.#env).brokerUrl as string | undefined;
    const url = this.#overrides.broker ?? env ?? this.#conf.brokerUrl ?? DEFAULT_SQLITE_URL;
    schemeOf(url, 'brokerUrl');
    return url;
  }

  /** The result backend URL in force (same order as brokerUrl). */
  get backendUrl(): string {
    const env = settingsFromEnv(this.#env).resultBackend as string | undefined;
    const configured = this.#overrides.backend ?? env ?? this.#conf.resultBackend;
    if (configured) {
      schemeOf(configured, 'resultBackend');
      return configured;
    }
    // Unset: results go next to the broker when it can store them.
    const broker = this.brokerUrl;
    const scheme = schemeOf(broker, 'brokerUrl');
    return scheme === 'sqlite' || scheme === 'memory' || scheme.startsWith('redis')
      ? broker
      : DEFAULT_SQLITE_URL;
  }

  /** Validates everything that can be checked without connecting. */
  validate(): void {
    void this.brokerUrl;
    void this.backendUrl;
  }

  // ---- tasks ---------------------------------------------------------------------------

  /** Registers a bound function task: it gets its {@link TaskContext} first. */
  task<A extends unknown[], R>(
    fn: (ctx: TaskContext, ...args: A) => R,
    options: TaskOptions<A> & { bind: true },
  ): Task<A, Awaited<R>, R>;
  /** Registers a function task (sync or async). */
  task<A extends unknown[], R>(
    fn: (...args: A) => R,
    options?: TaskOptions<A> & { bind?: false },
  ): Task<A, Awaited<R>, R>;
  /** Registers a class-based task. */
  task<A extends unknown[], R>(
    cls: (new () => BaseTask<A, R>) | BaseTask<A, R>,
    options?: TaskOptions<A>,
  ): Task<A, Awaited<R>, R | Promise<R>>;
  task(
    fnOrClass: Function | BaseTask<unknown[], unknown>,
    options: TaskOptions<unknown[]> = {},
  ): AnyTask {
    let def: TaskDefinition;
    if (fnOrClass instanceof BaseTask) def = defineClassTask(this, fnOrClass, options);
    else if (typeof fnOrClass === 'function' && fnOrClass.prototype instanceof BaseTask) {
      def = defineClassTask(
        this,
        new (fnOrClass as new () => BaseTask<unknown[], unknown>)(),
        options,
      );
    } else if (typeof fnOrClass === 'function') def = defineFunctionTask(this, fnOrClass, options);
    else
      throw new ConfigError(
        'app.task() takes a function, a BaseTask subclass or an instance of one',
      );
    if (this.#tasks.has(def.name)) throw new DuplicateTaskError(def.name);
    this.#tasks.set(def.name, def);
    return makeHandle<unknown[], unknown, unknown>(this, def);
  }

  /**
   * A typed handle on a task defined elsewhere (another service, or Python). It can be sent
   * but not run here.
   *
   * @example const pyAdd = app.remoteTask<[x: number, y: number], number>('tasks.add');
   */
  remoteTask<A extends unknown[], R>(
    name: string,
    options: TaskOptions<A> = {},
  ): Task<A, R, never> {
    return makeHandle<A, R, never>(this, defineRemoteTask(name, options));
  }

  /** Registered task definitions, by name. */
  get tasks(): ReadonlyMap<string, TaskDefinition> {
    return this.#tasks;
  }

  /**
   * Sends a task by name. Type it with the task's type when you have it:
   * `app.sendTask<typeof add>('tasks.add', [1, 2])`.
   */
  async sendTask<T extends AnyTask = Task<unknown[], unknown>>(
    name: string,
    args: TaskArgs<T> | readonly [] = [],
    kwargs: Record<string, unknown> = {},
    options: ApplyOptions = {},
  ): Promise<AsyncResult<TaskResult<T>>> {
    const def = this.#tasks.get(name);
    const id = await this.producer.send(name, def?.options ?? {}, args, kwargs, options);
    return new AsyncResult<TaskResult<T>>(id, this);
  }

  /** A result handle for a task id. */
  AsyncResult<R = unknown>(id: string): AsyncResult<R> {
    return new AsyncResult<R>(id, this);
  }

  /** A group's result handle from its id and member results. */
  GroupResult<R extends unknown[] = unknown[]>(
    id: string,
    results: readonly ResultLike[] | readonly string[],
  ): GroupResult<R> {
    const members = results.map((r) => (typeof r === 'string' ? new AsyncResult(r, this) : r));
    return new GroupResult<R>(id, members, this);
  }

  /** A group saved with `GroupResult.save()` (by celeriac or Python), or null. */
  restoreGroup(id: string): Promise<GroupResult | null> {
    return GroupResult.restore(id, this);
  }

  /**
   * A signature bound to this app, from a signature or Celery's dict form (e.g. one stored
   * or received as a task argument), so `delay()` / `applyAsync()` work on it.
   */
  signature<R = unknown, I = unknown, K extends ResultKind = ResultKind>(
    sig: AnySignature | Record<string, unknown>,
  ): Signature<R, I, K> {
    return sig instanceof Signature
      ? Signature.fromData<R, I, K>(sig.toData(), this)
      : Signature.fromDict<R, I, K>(sig, this);
  }

  // ---- CanvasApp / results ---------------------------------------------------------------

  /** @internal Applies a canvas (what `sig.delay()` / `sig.applyAsync()` call). */
  applyCanvas(
    canvas: SignatureData,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options: Record<string, unknown>,
  ): Promise<ResultLike> {
    if (this.#conf.taskAlwaysEager) return applyEager(this, canvas, args, kwargs);
    return applyCanvas(this, canvas, args, kwargs, options);
  }

  /** @internal Sends the replacement of a running task (ctx.replace). */
  replaceTask(request: TaskRequest, sig: AnySignature): Promise<unknown> {
    return replaceTask(this, request, sig);
  }

  /** @internal Result handles from Celery's result tuples (children, saved groups). */
  resultFromTuple(tuple: unknown): ResultLike | null {
    return resultFromTuple(tuple, this);
  }

  // ---- TaskHost ------------------------------------------------------------------------

  /** @internal */
  async send(
    def: TaskDefinition,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options: ApplyOptions,
  ): Promise<AsyncResult<unknown>> {
    if (def.local && def.options.typing) {
      const bound =
        def.options.kwargsTo === 'context' ? args : bindKwargs(def.name, args, kwargs, def.params);
      checkArity(def.name, bound, def.params);
    }
    if (this.#conf.taskAlwaysEager) return applyLocal(this, def, [...args], kwargs);
    const id = await this.producer.send(def.name, def.options, args, kwargs, options);
    return new AsyncResult(id, this);
  }

  /** @internal */
  applyLocal(
    def: TaskDefinition,
    args: unknown[],
    kwargs: Record<string, unknown>,
  ): Promise<AsyncResult<unknown>> {
    return applyLocal(this, def, args, kwargs);
  }

  /** @internal Runs the body in-process and returns what it returns. */
  callDirect(def: TaskDefinition, args: unknown[]): unknown {
    const request = eagerRequest(def, args, {});
    const ctx = createContext(def, request, {
      signal: new AbortController().signal,
      updateState: async () => {},
      warn: () => {},
      now: () => this.clock.now(),
    });
    return def.invoke(ctx, args);
  }

  /** @internal */
  now(): number {
    return this.clock.now();
  }

  // ---- events and remote control --------------------------------------------------------

  /** Remote control of workers (Celery's `app.control`): inspect(), revoke(), broadcast()... */
  get control(): Control {
    this.#control ??= new Control(this);
    return this.#control;
  }

  /** @internal Sends task-sent (spec §g.3) when taskSendSentEvent is on. */
  onTaskSent(message: TaskMessage, route: Route): void {
    if (!this.#conf.taskSendSentEvent) return;
    this.#events ??= new EventDispatcher({
      connection: () => this.connection(),
      hostname: this.origin,
      clock: this.lamport,
      exchange: this.#conf.eventExchange,
      serializer: this.#conf.eventSerializer,
    });
    this.#events.sendTask('task-sent', {
      uuid: message.id,
      rootId: message.rootId,
      parentId: message.parentId,
      name: message.task,
      args: message.argsrepr,
      kwargs: message.kwargsrepr,
      retries: message.retries,
      eta: message.eta === null ? null : toPythonIso(message.eta),
      expires: message.expires === null ? null : toPythonIso(message.expires),
      queue: route.queue,
      exchange: route.exchange,
      routingKey: route.routingKey,
    });
  }

  // ---- connections ---------------------------------------------------------------------

  /** The producer (built on first use). */
  get producer(): Producer {
    this.#producer ??= new Producer(this);
    return this.#producer;
  }

  /** The connected transport (connects on first use). */
  connection(): Promise<Transport> {
    if (this.#closed) return Promise.reject(new CeleriacError('CLOSED', 'The app is closed'));
    this.#transport ??= (async () => {
      const transport = await createTransport(this.brokerUrl, this.#conf.brokerTransportOptions);
      await transport.connect();
      return transport;
    })();
    this.#transport.catch(() => {
      this.#transport = undefined;
    });
    return this.#transport;
  }

  /** The connected result backend. Rejects with NO_BACKEND when results are disabled. */
  async backend(): Promise<ResultBackend> {
    const backend = await this.maybeBackend();
    if (!backend) {
      throw new CeleriacError('NO_BACKEND', 'No result backend is configured', {
        hint: "set resultBackend (e.g. 'redis://localhost:6379/0') to read results",
      });
    }
    return backend;
  }

  /** The connected result backend, or null when results are disabled. */
  maybeBackend(): Promise<ResultBackend | null> {
    if (this.#closed) return Promise.reject(new CeleriacError('CLOSED', 'The app is closed'));
    this.#backend ??= (async () => {
      const backend = await createBackend(
        this.backendUrl,
        this.#conf.resultBackendTransportOptions,
      );
      await backend?.connect();
      return backend;
    })();
    this.#backend.catch(() => {
      this.#backend = undefined;
    });
    return this.#backend;
  }

  /** For banners and logs. */
  describeUrls(): { broker: string; backend: string } {
    return { broker: maskUrl(this.brokerUrl), backend: maskUrl(this.backendUrl) };
  }

  /** Closes connections. The app cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#events?.close();
    this.#closed = true;
    const transport = this.#transport?.catch(() => undefined);
    const backend = this.#backend?.catch(() => undefined);
    await Promise.all([(await transport)?.close(), (await backend)?.close()]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
