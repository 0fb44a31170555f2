/**
 * Canvases end to end in one process: our client applies them, our worker (memory transport
 * and backend) runs them. Results, errors, nesting, and the chord join's edge cases.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  chain,
  chord,
  chunks,
  group,
  GroupResult,
  RemoteTaskError,
  Signature,
  Worker,
  xmap,
  xstarmap,
  type AsyncResult,
  type TaskContext,
} from '../../src/index.js';
import { Logger } from '../../src/util/logger.js';
import { fixtureApp } from '../support/canvas.js';

void describe('canvases run by a celeriac worker (memory)', () => {
  const { app, add, mul, xsum, fail, onError, echo } = fixtureApp();
  const seen: string[] = [];
  const record = app.task((tag: string) => seen.push(tag), { name: 'tasks.record' });
  const double = app.task((x: number) => x * 2, { name: 'tasks.double' });
  const failOn = app.task(
    (x: number): number => {
      throw new RangeError(`failed on ${x}`);
    },
    { name: 'tasks.fail_on' },
  );
  const replaceWithChain = app.task(
    (ctx: TaskContext, n: number): number => ctx.replace(chain(add.s(n, 1), mul.s(10))),
    { name: 'tasks.replace_chain', bind: true },
  );
  const replaceWithGroup = app.task(
    (ctx: TaskContext, n: number): number[] => ctx.replace(group(add.s(n, 1), add.s(n, 2))),
    { name: 'tasks.replace_group', bind: true },
  );
  const lines: string[] = [];
  const logger = new Logger({ level: 'INFO', sink: { write: (l: string) => void lines.push(l) } });
  const worker = new Worker(app, { concurrency: 4, logger });
  const get = <R>(r: { get(o: { timeout: number }): Promise<R> }): Promise<R> =>
    r.get({ timeout: 10 });

  before(() => worker.start());
  after(async () => {
    await worker.stop();
    await app.close();
  });

  void test('chain of 3: ((1 + 2) + 3) * 4, with parents back to the first step', async () => {
    const res = await chain(add.s(1, 2), add.s(3), mul.s(4)).delay();
    assert.equal(await get(res), 24);
    assert.equal(await get(res.parent as AsyncResult<number>), 6);
    assert.equal(await get(res.parent!.parent as AsyncResult<number>), 3);
    const first = res.parent!.parent as AsyncResult<number>;
    const [next] = await first.children();
    assert.equal(next!.id, res.parent!.id, 'the first step lists the second as its child');
  });

  void test('the fluent form and partial args on apply', async () => {
    const res = await add.s(2).pipe(mul.s(3)).pipe(add.s(1)).delay(5);
    assert.equal(await get(res), 22);
  });

  void test("group of 10: results in order, and GroupResult's state", async () => {
    const res = await group(Array.from({ length: 10 }, (_, i) => add.s(i, i))).delay();
    assert.ok(res instanceof GroupResult);
    assert.deepEqual(await get(res), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    assert.equal(await res.ready(), true);
    assert.equal(await res.successful(), true);
    assert.equal(await res.failed(), false);
    assert.equal(await res.completedCount(), 10);
    assert.equal(res.length, 10);
  });

  void test('group with a failure: get() rejects with the failure; propagate: false returns it', async () => {
    const res = await group(add.s(1, 1), fail.s('member-boom'), add.s(2, 2)).delay();
    await assert.rejects(get(res), /member-boom/);
    const values: unknown[] = await res.get({ timeout: 10, propagate: false });
    assert.equal(values[0], 2);
    assert.ok(values[1] instanceof RemoteTaskError);
    assert.equal(await res.failed(), true);
    assert.equal(await res.completedCount(), 2);
  });

  void test('chord of 10 with an xsum body', async () => {
    const res = await chord(
      Array.from({ length: 10 }, (_, i) => add.s(i, i)),
      xsum.s(),
    ).delay();
    assert.equal(await get(res), 90);
    assert.ok(res.parent instanceof GroupResult);
    assert.deepEqual(await get(res.parent), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  });

  void test('chord with an empty header: the body runs at once with []', async () => {
    const res = await chord([], xsum.s()).delay();
    assert.equal(await get(res), 0);
  });

  void test('chord with a header of one', async () => {
    assert.equal(await get(await chord([add.s(20, 22)], xsum.s()).delay()), 42);
  });

  void test('chord whose body is itself a chord', async () => {
    // header -> [2, 4]; inner header tasks each get [2, 4] prepended: echo-free: xsum.s() twice
    const inner = chord([xsum.s(), xsum.s()], xsum.s());
    const res = await chord([add.s(1, 1), add.s(2, 2)], inner).delay();
    assert.equal(await get(res), 12);
  });

  void test('a failing header task: ChordError on the body, body errbacks get its id', async () => {
    const body = xsum.s().onError(onError.s());
    const res = await chord([add.s(1, 1), fail.s('header-boom'), add.s(2, 2)], body).delay();
    await assert.rejects(get(res), (err: Error) => {
      assert.equal(err.name, 'ChordError');
      assert.match(err.message, /^Dependency [0-9a-f-]{36} raised ValueError\('header-boom'\)$/);
      return true;
    });
    await waitFor(() => lines.some((l) => l.includes(`errback saw ${res.id}`)));
  });

  void test('link and link_error', async () => {
    const ok = await add.s(2, 2).link(mul.s(10)).link(record.si('linked')).delay();
    assert.equal(await get(ok), 4);
    const children = await ok.children();
    assert.equal(children.length, 1, 'two callbacks are sent as one group');
    assert.ok(children[0] instanceof GroupResult);
    assert.deepEqual(await get(children[0]), [40, 1]);
    const bad = await fail.s('linked-boom').onError(onError.s()).delay();
    await assert.rejects(get(bad), /linked-boom/);
    await waitFor(() => lines.some((l) => l.includes(`errback saw ${bad.id}`)));
  });

  void test('a failing step stops the chain: every later step is FAILURE with its error', async () => {
    const res = await chain(add.s(1, 1), failOn.s(), add.s(1), mul.s(2)).delay();
    await assert.rejects(get(res), (err: Error) => {
      assert.ok(err instanceof RemoteTaskError);
      assert.equal(err.excType, 'ValueError');
      return true;
    });
    // the chain's last result was failed by the failing step (ValueError(2)), never run
    assert.equal(await res.state(), 'FAILURE');
    assert.equal(await res.parent!.ready(), true);
    assert.equal(await (res.parent as AsyncResult).state(), 'FAILURE');
  });

  void test("a failing step calls the chain's errbacks", async () => {
    const res = await chain(add.s(1, 1), failOn.s(), add.s(1)).onError(onError.s()).delay();
    await assert.rejects(get(res));
    await waitFor(() => lines.some((l) => /errback saw/.test(l) && l.includes(res.parent!.id)));
  });

  void test('nested: group in a chain, chord in a chain, chain in a group', async () => {
    // group in a chain, followed by a task: upgraded to a chord
    const c1 = await chain(add.s(1, 1), group(add.s(1), mul.s(2)), xsum.s(), mul.s(10)).delay();
    assert.equal(await get(c1), 70);
    // chord in the middle of a chain
    const c2 = await chain(add.s(2, 2), chord([add.s(1), add.s(2)], xsum.s()), double.s()).delay();
    assert.equal(await get(c2), 22);
    // chain in a group
    const g = await group(chain(add.s(1, 1), double.s()), chain(add.s(2, 2), double.s())).delay();
    assert.deepEqual(await get(g), [4, 8]);
    // a chain ending in a group gives the group's results
    const c3 = await chain(add.s(1, 1), group(add.s(1), mul.s(5))).delay();
    assert.ok(c3 instanceof GroupResult);
    assert.deepEqual(await get(c3), [3, 10]);
    // nested groups are flattened into one group
    const g2 = await group(group(add.s(1, 1), add.s(2, 2)), add.s(3, 3)).delay();
    assert.equal(g2.results.length, 3);
  });

  void test('chord whose header has chains; chain of chords', async () => {
    const res = await chord([chain(add.s(1, 1), double.s()), add.s(5, 5)], xsum.s()).delay();
    assert.equal(await get(res), 14);
    const two = await chain(
      chord([add.s(1, 1), add.s(2, 2)], xsum.s()),
      chord([add.s(1), add.s(2)], xsum.s()),
    ).delay();
    assert.equal(await get(two), 15);
  });

  void test('map, starmap, chunks', async () => {
    assert.deepEqual(await get(await double.map([1, 2, 3]).delay()), [2, 4, 6]);
    assert.deepEqual(
      await get(
        await add
          .starmap([
            [1, 2],
            [3, 4],
          ])
          .delay(),
      ),
      [3, 7],
    );
    assert.deepEqual(await get(await xmap(double.s(), [5]).delay()), [10]);
    assert.deepEqual(await get(await xstarmap(mul.s(), [[2, 3]]).delay()), [6]);
    const chunked = await add
      .chunks(
        [
          [1, 1],
          [2, 2],
          [3, 3],
          [4, 4],
          [5, 5],
        ],
        2,
      )
      .delay();
    assert.deepEqual(await get(chunked), [[2, 4], [6, 8], [10]]);
    assert.deepEqual(await get(await chunks(add.s(), [[1, 2]], 5).delay()), [[3]]);
  });

  void test('ctx.replace: a chain, then a group (its list of results)', async () => {
    const r1 = await replaceWithChain.delay(4);
    assert.equal(await get(r1), 50);
    const r2 = await chain(replaceWithChain.s(1), double.s()).delay();
    assert.equal(await get(r2), 40, 'the replaced step keeps its place in the chain');
    const r3 = await replaceWithGroup.delay(10);
    assert.deepEqual(await get(r3), [11, 12]);
    const r4 = await chord([replaceWithChain.s(1), add.s(1, 1)], xsum.s()).delay();
    assert.equal(await get(r4), 22, "the replacement completes the chord in the task's place");
  });

  void test('signatures as data: the dict form round-trips and can be applied later', async () => {
    const sig = chain(add.s(1, 2), mul.s(3)).set({ queue: 'celery' });
    const stored = JSON.parse(JSON.stringify(sig)) as Record<string, unknown>;
    assert.equal(stored['subtask_type'], 'chain');
    const back = app.signature<number, unknown, 'single'>(stored);
    assert.deepEqual(back.toDict(), sig.toDict());
    assert.equal(await get(await back.delay()), 9);
    // as a task argument: echo returns it; it comes back as the dict
    const echoed = (await get(await echo.delay(add.s(1, 1)))) as { args: unknown[] };
    assert.deepEqual(echoed.args[0], add.s(1, 1).toDict());
    assert.ok(Signature.fromDict(echoed.args[0]).task === 'tasks.add');
  });

  void test('GroupResult save and restore, and app.GroupResult from ids', async () => {
    const res = await group(add.s(1, 1), add.s(2, 2)).delay();
    await res.save();
    const restored = await app.restoreGroup(res.id);
    assert.ok(restored);
    assert.deepEqual(await get(restored), [2, 4]);
    const byIds = app.GroupResult(
      res.id,
      res.results.map((r) => r.id),
    );
    assert.deepEqual(await get(byIds), [2, 4]);
    await restored.forget();
    assert.equal(await app.restoreGroup(res.id), null);
  });

  void test('GroupResult.revoke() revokes every member on the workers', async () => {
    const res = await group(
      add.s(1, 1).set({ countdown: 60 }),
      add.s(2, 2).set({ countdown: 60 }),
    ).delay();
    const replies = await res.revoke({ reply: true, limit: 1, timeout: 5 });
    assert.equal(replies.length, 1, 'the worker answered');
    for (const r of res.results) assert.ok(worker.state.revoked.has(r.id), r.id);
  });

  void test('canvas misuse fails before anything is sent', async () => {
    await assert.rejects(app.signature(chain([])).delay(), /empty chain/);
    await assert.rejects(
      group(add.s(1, 1)).applyAsync(null, null, { link: mul.s(2) }),
      /Cannot add link to group/,
    );
    await assert.rejects(
      new Signature({ task: 'tasks.add', args: [1, 1] }).delay(),
      /not bound to an app/,
    );
  });
});

void describe('a chord without a result backend', () => {
  const { app, add, xsum } = fixtureApp({ resultBackend: 'disabled://' });
  after(() => app.close());

  void test('fails before any header task is sent', async () => {
    const sent: unknown[] = [];
    app.producer.publish = async (wire) => {
      sent.push(wire);
    };
    await assert.rejects(chord([add.s(1, 1), add.s(2, 2)], xsum.s()).delay(), (err: Error) => {
      assert.match(err.message, /A chord needs a result backend/);
      return true;
    });
    assert.equal(sent.length, 0);
  });
});

void describe('canvases in eager mode (taskAlwaysEager)', () => {
  const { app, add, mul, xsum } = fixtureApp({ taskAlwaysEager: true });
  const replacing = app.task(
    (ctx: TaskContext, n: number): number => ctx.replace(chain(add.s(n, 1), mul.s(10))),
    { name: 'tasks.replacing', bind: true },
  );
  after(() => app.close());

  void test("ctx.replace in an eager run returns the replacement's result", async () => {
    assert.equal(await (await replacing.delay(4)).get(), 50);
    assert.equal(await (await replacing.apply([1])).get(), 20);
  });

  void test('chain, group and chord run in this process', async () => {
    assert.equal(await (await chain(add.s(1, 2), add.s(3), mul.s(4)).delay()).get(), 24);
    assert.deepEqual(await (await group(add.s(1, 1), add.s(2, 2)).delay()).get(), [2, 4]);
    assert.equal(await (await chord([add.s(1, 1), add.s(2, 2)], xsum.s()).delay()).get(), 6);
  });
});

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
