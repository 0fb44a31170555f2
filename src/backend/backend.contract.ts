/**
 * The result backend contract: one suite every {@link ResultBackend} must pass. Memory runs it
 * as a unit test; SQLite and Redis run it for real. Tests that need something the backend or
 * the harness does not offer are skipped with the reason.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import { CeleriacError, TimeoutError } from '../errors.js';
import type { TaskMeta } from '../protocol/types.js';
import type { ResultBackend } from './types.js';

/** What the suite needs from the backend under test. */
export interface BackendHarness {
  /** A fresh, not yet connected backend. The suite connects and closes it. */
  backend: ResultBackend;
  /** Frees whatever the harness made (files, keys). Called after the backend is closed. */
  cleanup(): Promise<void>;
  /** Another connection to the same store, not yet connected (tests wake-ups across connections). */
  peer?: () => Promise<ResultBackend>;
  /**
   * Moves the backend's clock forward (when it runs on an injected clock). Without it the TTL
   * test waits for real time to pass (a little over 1 s).
   */
  advanceTime?: (ms: number) => void;
}

const EVENTUALLY_MS = 5000;
const QUIET_MS = 150;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const newId = (): string => randomUUID();

/** A meta in the shape the worker stores. */
export function contractMeta(
  taskId: string,
  status: TaskMeta['status'],
  result: unknown = null,
  extra: Partial<TaskMeta> = {},
): TaskMeta {
  const ready = status === 'SUCCESS' || status === 'FAILURE' || status === 'REVOKED';
  return {
    taskId,
    status,
    result,
    traceback: null,
    children: [],
    dateDone: ready ? '2026-11-25T05:43:22.702875' : null,
    ...extra,
  };
}

type Make = () => Promise<BackendHarness>;
type Body = (b: ResultBackend, h: BackendHarness, ctx: TestContext) => Promise<void>;

function run(make: Make, body: Body) {
  return async (ctx: TestContext): Promise<void> => {
    const h = await make();
    try {
      await h.backend.connect();
      await body(h.backend, h, ctx);
    } finally {
      await h.backend.close();
      await h.cleanup();
    }
  };
}

/** Rejects if `promise` has not settled within EVENTUALLY_MS. */
async function eventually<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), EVENTUALLY_MS);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Registers the backend contract suite for `name`; `make` builds a fresh harness per test. */
export function backendContract(name: string, make: Make): void {
  void describe(`backend contract: ${name}`, () => {
    void describe('metas', () => {
      void test(
        'store then get round-trips every field; unknown ids are null',
        run(make, async (b) => {
          const id = newId();
          assert.equal(await b.get(id), null);
          const meta = contractMeta(
            id,
            'SUCCESS',
            { sum: 3, list: [1, 'two', null] },
            {
              groupId: newId(),
              parentId: newId(),
              name: 'tasks.add',
              args: [1, 2],
              kwargs: { z: true },
              worker: 'celery@host',
              retries: 2,
              queue: 'celery',
              children: [[[newId(), null], null]],
            },
          );
          await b.store(meta);
          assert.deepEqual(await b.get(id), meta);
        }),
      );

      void test(
        'a later state replaces an earlier one, but SUCCESS is never overwritten',
        run(make, async (b) => {
          const id = newId();
          await b.store(contractMeta(id, 'STARTED', { pid: 1, hostname: 'h' }));
          assert.equal((await b.get(id))?.status, 'STARTED');
          await b.store(contractMeta(id, 'SUCCESS', 42));
          await b.store(
            contractMeta(id, 'FAILURE', {
              excType: 'ValueError',
              excMessage: ['late'],
              excModule: 'builtins',
            }),
          );
          await b.store(contractMeta(id, 'STARTED'));
          const got = await b.get(id);
          assert.equal(got?.status, 'SUCCESS');
          assert.equal(got?.result, 42);
        }),
      );

      void test(
        'getMany keeps the order and gives null for unknown ids',
        run(make, async (b) => {
          const [x, y, z] = [newId(), newId(), newId()];
          await b.store(contractMeta(x, 'SUCCESS', 'x'));
          await b.store(contractMeta(z, 'FAILURE', 'z'));
          const got = await b.getMany([z, y, x]);
          assert.deepEqual(
            got.map((m) => m?.result ?? null),
            ['z', null, 'x'],
          );
          assert.deepEqual(await b.getMany([]), []);
        }),
      );

      void test(
        'forget removes the meta',
        run(make, async (b) => {
          const id = newId();
          await b.store(contractMeta(id, 'SUCCESS', 1));
          await b.forget(id);
          assert.equal(await b.get(id), null);
          await b.forget(id);
        }),
      );

      void test(
        'expires is honoured',
        run(make, async (b, h) => {
          const short = newId();
          const forever = newId();
          await b.store(contractMeta(short, 'SUCCESS', 1), { expires: 1 });
          await b.store(contractMeta(forever, 'SUCCESS', 2), { expires: 0 });
          assert.equal((await b.get(short))?.result, 1);
          if (h.advanceTime) h.advanceTime(1500);
          else await sleep(2100);
          assert.equal(await b.get(short), null, 'expired after its TTL');
          assert.equal((await b.get(forever))?.result, 2, 'expires: 0 keeps it');
          await b.store(contractMeta(short, 'FAILURE', 'again'));
          assert.equal(
            (await b.get(short))?.status,
            'FAILURE',
            'an expired SUCCESS no longer blocks a write',
          );
        }),
      );
    });

    void describe('waiting', () => {
      void test(
        'waitFor resolves at once when the task is already ready',
        run(make, async (b) => {
          const id = newId();
          await b.store(
            contractMeta(id, 'FAILURE', {
              excType: 'ValueError',
              excMessage: ['x'],
              excModule: 'builtins',
            }),
          );
          const meta = await eventually(b.waitFor(id, { timeout: 1000 }), 'a ready meta');
          assert.equal(meta.status, 'FAILURE');
          assert.deepEqual(
            meta.result,
            { excType: 'ValueError', excMessage: ['x'], excModule: 'builtins' },
            'exception info round-trips',
          );
        }),
      );

      void test(
        'waitFor resolves on a later ready store, not on a non-ready one',
        run(make, async (b) => {
          const id = newId();
          let settled = false;
          const waiting = b.waitFor(id).finally(() => {
            settled = true;
          });
          await sleep(20);
          await b.store(contractMeta(id, 'STARTED', { pid: 1, hostname: 'h' }));
          await sleep(QUIET_MS);
          assert.equal(settled, false, 'STARTED is not ready');
          await b.store(contractMeta(id, 'SUCCESS', 'done'));
          const meta = await eventually(waiting, 'the SUCCESS store');
          assert.equal(meta.result, 'done');
        }),
      );

      void test(
        'waitFor rejects with TimeoutError on timeout',
        run(make, async (b) => {
          const started = Date.now();
          await assert.rejects(b.waitFor(newId(), { timeout: 100 }), (error: unknown) => {
            assert.ok(error instanceof TimeoutError, `expected TimeoutError, got ${String(error)}`);
            assert.equal(error.code, 'TIMEOUT');
            return true;
          });
          assert.ok(Date.now() - started >= 90, 'did not give up before the timeout');
        }),
      );

      void test(
        'waitFor rejects with the abort reason',
        run(make, async (b) => {
          const controller = new AbortController();
          const reason = new Error('stop waiting');
          const waiting = b.waitFor(newId(), { signal: controller.signal });
          setTimeout(() => controller.abort(reason), 20);
          await assert.rejects(
            eventually(waiting, 'the abort'),
            (error: unknown) => error === reason,
          );
          await assert.rejects(
            b.waitFor(newId(), { signal: AbortSignal.abort(reason) }),
            (error: unknown) => error === reason,
          );
        }),
      );

      void test(
        'onChange sees each state, and stops after unsubscribe',
        run(make, async (b, _h, ctx) => {
          if (!b.onChange) {
            ctx.skip(`${b.kind} does not implement onChange`);
            return;
          }
          const id = newId();
          const seen: string[] = [];
          const unsubscribe = b.onChange(id, (meta) => seen.push(meta.status));
          await sleep(20);
          await b.store(contractMeta(id, 'STARTED'));
          const deadline = Date.now() + EVENTUALLY_MS;
          while (!seen.includes('STARTED') && Date.now() < deadline) await sleep(5);
          await b.store(contractMeta(id, 'SUCCESS', 1));
          while (!seen.includes('SUCCESS') && Date.now() < deadline) await sleep(5);
          assert.deepEqual(seen, ['STARTED', 'SUCCESS']);
          unsubscribe();
          unsubscribe();
          await b.forget(id);
          await b.store(contractMeta(id, 'FAILURE', 1));
          await sleep(QUIET_MS);
          assert.deepEqual(seen, ['STARTED', 'SUCCESS']);
        }),
      );

      void test(
        'a waiter on another connection is woken by a store',
        run(make, async (a, h, ctx) => {
          if (!h.peer) {
            ctx.skip('the harness offers no second connection (peer)');
            return;
          }
          const other = await h.peer();
          try {
            await other.connect();
            const id = newId();
            const waiting = other.waitFor(id, { timeout: EVENTUALLY_MS });
            await sleep(20);
            await a.store(contractMeta(id, 'SUCCESS', 'across'));
            assert.equal((await waiting).result, 'across');
          } finally {
            await other.close();
          }
        }),
      );
    });

    void describe('groups and chords', () => {
      void test(
        'saveGroup / restoreGroup / forgetGroup',
        run(make, async (b) => {
          const gid = newId();
          const tuple = [
            [gid, null],
            [
              [[newId(), null], null],
              [[newId(), null], null],
            ],
          ];
          assert.equal(await b.restoreGroup(gid), null);
          await b.saveGroup(gid, tuple);
          assert.deepEqual(await b.restoreGroup(gid), tuple);
          await b.forgetGroup(gid);
          assert.equal(await b.restoreGroup(gid), null);
        }),
      );

      void test(
        'concurrent chord parts: exactly one completes, members ordered by groupIndex',
        run(make, async (b) => {
          const gid = newId();
          const size = 8;
          await b.setChordSize(gid, size);
          const ids = Array.from({ length: size }, () => newId());
          const order = [5, 0, 7, 2, 6, 1, 4, 3];
          const results = await Promise.all(
            order.map((i) =>
              b.chordPartCompleted(
                gid,
                i,
                contractMeta(ids[i]!, 'SUCCESS', i * 10, { groupId: gid }),
              ),
            ),
          );
          const complete = results.filter((r) => r.complete);
          assert.equal(complete.length, 1, 'exactly one caller completes the chord');
          const members = complete[0]!.members ?? [];
          assert.deepEqual(
            members.map((m) => m.taskId),
            ids,
          );
          assert.deepEqual(
            members.map((m) => m.result),
            ids.map((_, i) => i * 10),
          );
          assert.equal(members[0]?.status, 'SUCCESS');
          const again = await b.chordPartCompleted(
            gid,
            3,
            contractMeta(ids[3]!, 'SUCCESS', 30, { groupId: gid }),
          );
          assert.equal(
            again.complete,
            false,
            'a repeated part (redelivery) does not complete it twice',
          );
        }),
      );

      void test(
        'a chord completes only when its size is reached; failures are members too',
        run(make, async (b) => {
          const gid = newId();
          await b.setChordSize(gid, 2);
          const first = await b.chordPartCompleted(
            gid,
            1,
            contractMeta(newId(), 'FAILURE', {
              excType: 'ValueError',
              excMessage: ['x'],
              excModule: 'builtins',
            }),
          );
          assert.equal(first.complete, false);
          const second = await b.chordPartCompleted(gid, 0, contractMeta(newId(), 'SUCCESS', 1));
          assert.equal(second.complete, true);
          assert.deepEqual(
            second.members?.map((m) => m.status),
            ['SUCCESS', 'FAILURE'],
          );
        }),
      );

      void test(
        'chordCleanup removes the bookkeeping',
        run(make, async (b) => {
          const gid = newId();
          await b.setChordSize(gid, 1);
          assert.equal(
            (await b.chordPartCompleted(gid, 0, contractMeta(newId(), 'SUCCESS', 1))).complete,
            true,
          );
          await b.chordCleanup(gid);
          await b.chordCleanup(gid);
          const after = await b.chordPartCompleted(gid, 0, contractMeta(newId(), 'SUCCESS', 1));
          assert.equal(
            after.complete,
            false,
            'no size is known after cleanup, so nothing completes',
          );
          await b.chordCleanup(gid);
        }),
      );
    });

    void describe('lifecycle', () => {
      void test(
        'close() is idempotent, leaves no timers, and pending waiters are released',
        run(make, async (b) => {
          const countHandles = (): number =>
            process
              .getActiveResourcesInfo()
              .filter((r) => r === 'Timeout' || r === 'FSEvent' || r === 'StatWatcher').length;
          const before = countHandles();
          const waiting = b.waitFor(newId()).then(
            () => 'resolved',
            (error: unknown) => (error instanceof CeleriacError ? error.code : 'other'),
          );
          b.onChange?.(newId(), () => undefined);
          await sleep(20);
          await Promise.all([b.close(), b.close()]);
          await b.close();
          assert.equal(await eventually(waiting, 'the waiter to be released by close()'), 'CLOSED');
          await new Promise((resolve) => setImmediate(resolve));
          assert.ok(
            countHandles() <= before,
            `timers/watchers left after close: ${process.getActiveResourcesInfo().join(',')}`,
          );
        }),
      );
    });
  });
}
