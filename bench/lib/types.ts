/**
 * The contract between the harness and one system under test (an adapter): how to start its
 * worker process, and a producer that runs the scenarios' inner loops.
 */
import type { RedisTarget } from './redis.js';

/**
 * How tasks are sent: `one` awaits each send before the next; `concurrent` keeps a window of
 * sends in flight (Promise.all); `batch` uses the system's own bulk call.
 */
export type EnqueueMode = 'one' | 'concurrent' | 'batch';

/** Where a system's worker and producer connect. */
export interface Target {
  readonly redis: RedisTarget;
  /** A temporary directory of this run (embedded stores put their files here). */
  readonly dataDir: string;
  /** Worker concurrency for this system (from its adapter's default or the CLI). */
  readonly concurrency: number;
}

/** A worker process to start: the harness puts it in its own process group and logs its output. */
export interface WorkerSpec {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
}

/** Tuning of the scenario loops, the same for every system. */
export interface LoopOptions {
  /** Sends kept in flight in `concurrent` mode. */
  readonly window: number;
  /** Tasks per bulk call in `batch` mode. */
  readonly batch: number;
}

/**
 * The producer side of one system, driving whole scenario loops so that a system whose client
 * is not Node (Python Celery) times its own loops in its own process.
 * Every task is add(x, y); its result must be x + y.
 */
export interface Producer {
  /** Pids of producer processes other than the harness itself (for CPU accounting). */
  readonly childPids: readonly number[];
  /** Sends n tasks add(i, i) (no worker needs to run); keeps their handles for completed()/verify(). */
  enqueue(n: number, mode: EnqueueMode): Promise<{ secs: number }>;
  /** How many of the tasks sent by the last enqueue() have a stored result. */
  completed(): Promise<number>;
  /** Checks k random stored results of the last enqueue(); how many were wrong. */
  verify(k: number): Promise<{ checked: number; bad: number }>;
  /** Sends n tasks while a worker runs and waits for all n results; wall time and wrong results. */
  endToEnd(
    n: number,
    mode: EnqueueMode,
    timeoutMs: number,
  ): Promise<{ secs: number; sendSecs: number; bad: number }>;
  /** `warmup + n` times: send one task, wait for its result; the n timed round trips in ms. */
  latency(n: number, warmup: number, timeoutMs: number): Promise<number[]>;
  /** Sends add(20, 22) and waits for 42: the worker is up. */
  probe(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** One system under test. */
export interface SystemAdapter {
  /** Short id used on the command line and in result files, e.g. `bullmq`. */
  readonly id: string;
  /** Name in the table, e.g. `BullMQ`. */
  readonly label: string;
  /** What the system stores results in. */
  readonly store: 'redis' | 'sqlite';
  /** Worker concurrency used unless the CLI says otherwise. */
  readonly defaultConcurrency: number;
  /** One line: how this system is configured in the benchmark. */
  describe(target: Target): string;
  /** Enqueue modes the system offers, measured in this order. */
  readonly enqueueModes: readonly EnqueueMode[];
  /** The mode used to fill the queue before a drain (the fastest it offers). */
  readonly drainEnqueueMode: EnqueueMode;
  /** The mode the producer uses in the steady end-to-end scenario. */
  readonly endToEndMode: EnqueueMode;
  /** undefined when the system can run here (against `target`); otherwise why not (shown under the table). */
  unavailable(target: Target): Promise<string | undefined>;
  /** Versions of the system and its client libraries. */
  versions(): Promise<Record<string, string>>;
  /** The worker process number `index` (0, 1, ...). */
  workerSpec(target: Target, index: number): WorkerSpec;
  /** Opens a producer (connects; does not need a worker). */
  openProducer(target: Target, loops: LoopOptions): Promise<Producer>;
}
