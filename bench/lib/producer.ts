/**
 * Producers for the scenarios. {@link LocalProducer} runs the loops in this process on top of a
 * small per-system {@link Client}; {@link RemoteProducer} asks a child process (Python Celery's
 * producer) to run them, over JSON lines on stdin/stdout.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EnqueueMode, LoopOptions, Producer, WorkerSpec } from './types.js';

/** The few calls a Node system's client must offer. H = its handle on a sent task. */
export interface Client<H> {
  /** Sends add(x, y); resolves once the system has accepted it. */
  send(x: number, y: number): Promise<H>;
  /** Sends many with the system's bulk call (only for systems that have one). */
  sendBatch?(pairs: ReadonlyArray<readonly [number, number]>): Promise<H[]>;
  /** The task's result, waited for the way the system's users wait for one. */
  wait(handle: H, timeoutMs: number): Promise<unknown>;
  /** All results (default: Promise.all of wait). */
  waitAll?(handles: readonly H[], timeoutMs: number): Promise<unknown[]>;
  /** How many of `handles` have a stored result (polled during a drain). */
  completed(handles: readonly H[]): Promise<number>;
  /** A stored result read back, for the spot check after a drain. */
  result?(handle: H): Promise<unknown>;
  close(): Promise<void>;
}

const now = (): number => performance.now();

/** Runs the scenario loops over a {@link Client} in the harness process. */
export class LocalProducer<H> implements Producer {
  readonly childPids: readonly number[] = [];
  #handles: H[] = [];
  readonly #client: Client<H>;
  readonly #loops: LoopOptions;

  constructor(client: Client<H>, loops: LoopOptions) {
    this.#client = client;
    this.#loops = loops;
  }

  async #send(n: number, mode: EnqueueMode, base: number): Promise<H[]> {
    const c = this.#client;
    const out: H[] = [];
    if (mode === 'one') {
      for (let i = 0; i < n; i++) out.push(await c.send(base + i, base + i));
    } else if (mode === 'concurrent') {
      for (let i = 0; i < n; i += this.#loops.window) {
        const m = Math.min(this.#loops.window, n - i);
        const sends: Array<Promise<H>> = [];
        for (let j = 0; j < m; j++) sends.push(c.send(base + i + j, base + i + j));
        out.push(...(await Promise.all(sends)));
      }
    } else {
      if (!c.sendBatch)
        throw new Error('this system has no batch send: leave "batch" out of its enqueueModes');
      for (let i = 0; i < n; i += this.#loops.batch) {
        const m = Math.min(this.#loops.batch, n - i);
        const pairs: Array<readonly [number, number]> = [];
        for (let j = 0; j < m; j++) pairs.push([base + i + j, base + i + j]);
        out.push(...(await c.sendBatch(pairs)));
      }
    }
    return out;
  }

  async enqueue(n: number, mode: EnqueueMode): Promise<{ secs: number }> {
    const t0 = now();
    this.#handles = await this.#send(n, mode, 0);
    return { secs: (now() - t0) / 1000 };
  }

  completed(): Promise<number> {
    return this.#client.completed(this.#handles);
  }

  async verify(k: number): Promise<{ checked: number; bad: number }> {
    const read = this.#client.result?.bind(this.#client);
    if (!read || this.#handles.length === 0) return { checked: 0, bad: 0 };
    let bad = 0;
    for (let t = 0; t < k; t++) {
      const i = Math.floor(Math.random() * this.#handles.length);
      if (Number(await read(this.#handles[i]!)) !== 2 * i) bad++;
    }
    return { checked: k, bad };
  }

  async endToEnd(
    n: number,
    mode: EnqueueMode,
    timeoutMs: number,
  ): Promise<{ secs: number; sendSecs: number; bad: number }> {
    const base = 1_000_000;
    const t0 = now();
    const handles = await this.#send(n, mode, base);
    const tSent = now();
    const c = this.#client;
    const values = c.waitAll
      ? await c.waitAll(handles, timeoutMs)
      : await Promise.all(handles.map((h) => c.wait(h, timeoutMs)));
    const secs = (now() - t0) / 1000;
    let bad = 0;
    for (let i = 0; i < n; i++) if (Number(values[i]) !== 2 * (base + i)) bad++;
    return { secs, sendSecs: (tSent - t0) / 1000, bad };
  }

  async latency(n: number, warmup: number, timeoutMs: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < warmup + n; i++) {
      const t = now();
      const h = await this.#client.send(i, 1);
      const v = await this.#client.wait(h, timeoutMs);
      const dt = now() - t;
      if (Number(v) !== i + 1) throw new Error(`latency: add(${i}, 1) returned ${String(v)}`);
      if (i >= warmup) out.push(dt);
    }
    return out;
  }

  async probe(timeoutMs: number): Promise<void> {
    const v = await this.#client.wait(await this.#client.send(20, 22), timeoutMs);
    if (Number(v) !== 42) throw new Error(`probe: add(20, 22) returned ${String(v)}`);
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
}

/** Numbers out of a child's reply, checked. */
function num(reply: Record<string, unknown>, key: string): number {
  const v = reply[key];
  if (typeof v !== 'number')
    throw new Error(`producer reply has no number "${key}": ${JSON.stringify(reply)}`);
  return v;
}

/**
 * A producer in a child process speaking JSON lines: requests `{"id", "op", ...}`, replies
 * `{"id", "ok": true, ...}` or `{"id", "ok": false, "error"}`. Ops: open, enqueue, completed,
 * verify, e2e, latency, probe, close (see bench/workers/celery_py/producer.py).
 */
export class RemoteProducer implements Producer {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #pending = new Map<number, Pending>();
  readonly #exited: Promise<void>;
  #seq = 0;
  #stderr = '';

  private constructor(spec: WorkerSpec) {
    this.#child = spawn(spec.cmd, [...spec.args], {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: 'pipe',
    });
    this.#child.stderr.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-4000);
    });
    createInterface({ input: this.#child.stdout }).on('line', (line) => this.#onLine(line));
    this.#exited = new Promise((resolve) => {
      this.#child.once('exit', (code) => {
        for (const p of this.#pending.values())
          p.reject(new Error(`producer exited (${code}): ${this.#stderr.trim()}`));
        this.#pending.clear();
        resolve();
      });
    });
  }

  /** Starts the child and waits for its `open` reply. */
  static async start(
    spec: WorkerSpec,
    openParams: Record<string, unknown>,
  ): Promise<RemoteProducer> {
    const p = new RemoteProducer(spec);
    try {
      await p.#call('open', openParams);
    } catch (e) {
      await p.close();
      throw e;
    }
    return p;
  }

  get childPids(): readonly number[] {
    return this.#child.pid ? [this.#child.pid] : [];
  }

  #onLine(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      return; // not a reply (stray print)
    }
    if (typeof msg !== 'object' || msg === null) return;
    const reply = msg as Record<string, unknown>;
    const id = typeof reply.id === 'number' ? reply.id : -1;
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    if (reply.ok === true) p.resolve(reply);
    else p.reject(new Error(`producer: ${String(reply.error)}`));
  }

  #call(op: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#child.stdin.write(`${JSON.stringify({ id, op, ...params })}\n`);
    });
  }

  async enqueue(n: number, mode: EnqueueMode): Promise<{ secs: number }> {
    return { secs: num(await this.#call('enqueue', { n, mode }), 'secs') };
  }

  async completed(): Promise<number> {
    return num(await this.#call('completed'), 'count');
  }

  async verify(k: number): Promise<{ checked: number; bad: number }> {
    const r = await this.#call('verify', { k });
    return { checked: num(r, 'checked'), bad: num(r, 'bad') };
  }

  async endToEnd(
    n: number,
    mode: EnqueueMode,
    timeoutMs: number,
  ): Promise<{ secs: number; sendSecs: number; bad: number }> {
    const r = await this.#call('e2e', { n, mode, timeoutMs });
    return { secs: num(r, 'secs'), sendSecs: num(r, 'sendSecs'), bad: num(r, 'bad') };
  }

  async latency(n: number, warmup: number, timeoutMs: number): Promise<number[]> {
    const r = await this.#call('latency', { n, warmup, timeoutMs });
    const ms = r.ms;
    if (!Array.isArray(ms) || !ms.every((x): x is number => typeof x === 'number'))
      throw new Error('producer: latency reply has no "ms" list');
    return ms;
  }

  async probe(timeoutMs: number): Promise<void> {
    await this.#call('probe', { timeoutMs });
  }

  async close(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      await Promise.race([this.#call('close').catch(() => undefined), sleep(3000)]);
      this.#child.stdin.end();
      await Promise.race([this.#exited, sleep(3000)]);
      this.#child.kill('SIGKILL');
    }
  }
}
