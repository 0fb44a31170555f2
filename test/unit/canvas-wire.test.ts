/**
 * What applying canvases sends, compared with what Python Celery 5.2.6 sent for the same
 * calls (canvas_chain3, canvas_group3, canvas_chord3, task_link_link_error, group_result_save):
 * headers and body bytes equal once random ids are numbered by first appearance, so the ids'
 * relations (root_id = id, the chain's pre-assigned ids, the chord body's id) must match too.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { chain, chord, group, GroupResult, AsyncResult } from '../../src/index.js';
import { compareTexts, fixtureApp, record, sent } from '../support/canvas.js';
import { fixtureMessages, loadFixture } from '../support/fixtures.js';

void describe('canvas on the wire, against the Python fixtures', () => {
  const { app, add, mul, xsum, onError } = fixtureApp();
  after(() => app.close());

  void test('canvas_chain3: only the first task is sent, the rest reversed in embed.chain', async () => {
    const events = await record(app);
    const res = await chain(add.s(1, 2), add.s(3), mul.s(4)).applyAsync();
    const [ours, python] = compareTexts(sent(events), fixtureMessages('canvas_chain3'));
    assert.deepEqual(ours, python);
    // The chain's result is the last step's; its parents are the earlier steps.
    const body = JSON.parse(sent(events)[0]!.body.toString()) as [
      unknown,
      unknown,
      { chain: { options: { task_id: string } }[] },
    ];
    assert.ok(res instanceof AsyncResult);
    assert.equal(res.id, body[2].chain[0]!.options.task_id);
    assert.equal(res.parent?.id, body[2].chain[1]!.options.task_id);
    assert.equal(res.parent?.parent?.id, sent(events)[0]!.headers['id']);
    assert.equal(res.parent?.parent?.parent, null);
  });

  void test('canvas_group3: one message per member, same group, group_index null', async () => {
    const events = await record(app);
    const res = await group([0, 1, 2].map((i) => add.s(i, i))).applyAsync();
    const [ours, python] = compareTexts(sent(events), fixtureMessages('canvas_group3'));
    assert.deepEqual(ours, python);
    assert.ok(res instanceof GroupResult);
    assert.equal(res.id, sent(events)[0]!.headers['group']);
    assert.deepEqual(
      res.results.map((r) => r.id),
      sent(events).map((w) => w.headers['id']),
    );
  });

  void test('canvas_chord3: size stored before the last header task, body in embed.chord', async () => {
    const events = await record(app);
    const res = await chord(
      [0, 1, 2].map((i) => add.s(i, i)),
      xsum.s(),
    ).applyAsync();
    const [ours, python] = compareTexts(sent(events), fixtureMessages('canvas_chord3'));
    assert.deepEqual(ours, python);
    assert.deepEqual(
      events.map((e) => e.kind),
      ['send', 'send', 'chord-size', 'send'],
    );
    const size = events[2];
    assert.ok(size?.kind === 'chord-size');
    assert.equal(size.size, 3);
    assert.equal(size.groupId, sent(events)[0]!.headers['group']);
    const body = JSON.parse(sent(events)[0]!.body.toString()) as [
      unknown,
      unknown,
      { chord: { options: { task_id: string } } },
    ];
    assert.equal(res.id, body[2].chord.options.task_id);
    assert.ok(res.parent instanceof GroupResult);
    assert.equal(res.parent.id, size.groupId);
  });

  void test('group(...).pipe(body) is the same chord', async () => {
    const a = await record(app);
    await chord([add.s(1, 1), add.s(2, 2)], xsum.s()).applyAsync();
    const b = await record(app);
    await group(add.s(1, 1), add.s(2, 2)).pipe(xsum.s()).applyAsync();
    const [ours, theirs] = compareTexts(sent(b), []);
    assert.deepEqual(ours, compareTexts(sent(a), [])[0]);
    assert.equal(theirs.length, 0);
  });

  void test('task_link_link_error: link and link_error on a signature', async () => {
    const events = await record(app);
    const sig = add
      .s(2, 2)
      .set({ taskId: '44444444-4444-4444-8444-444444444444' })
      .link(mul.s(10))
      .link(add.si(100, 100))
      .onError(onError.s());
    await sig.delay();
    const [ours, python] = compareTexts(sent(events), fixtureMessages('task_link_link_error'));
    assert.deepEqual(ours, python);
  });

  void test("group_result_save: the saved group meta is Python's", async () => {
    const res = await group([0, 1, 2].map((i) => add.s(i, i))).applyAsync(null, null, {
      taskId: 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
    });
    await res.save();
    const backend = await app.backend();
    const stored = await backend.restoreGroup(res.id);
    const publishes = loadFixture('group_result_save')['publishes'] as {
      json: { result: unknown };
    }[];
    const expected = publishes[0]!.json.result as [[string, null], [[string, null], null][]];
    const [head, members] = stored as typeof expected;
    assert.deepEqual(head, expected[0]);
    assert.equal(members.length, 3);
    members.forEach((m, i) => {
      assert.equal(m[0][0], res.results[i]!.id);
      assert.deepEqual([m[0][1], m[1]], [null, null]);
    });
    const restored = await app.restoreGroup(res.id);
    assert.ok(restored);
    assert.deepEqual(restored.asTuple(), res.asTuple());
  });
});
