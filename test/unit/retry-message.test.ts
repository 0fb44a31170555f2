/**
 * The message a worker sends for a retry has the shape Python's worker sends
 * (fixture worker_task_retry): same id, retries + 1, an eta, parent_id = its own id,
 * same args; and backoff countdowns follow Celery's formula.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Celery } from '../../src/index.js';
import { decodeTaskMessage } from '../../src/protocol/task-message.js';
import { normalizeAccept } from '../../src/serialization/index.js';
import type { Delivery } from '../../src/transport/types.js';
import { exponentialBackoff } from '../../src/util/backoff.js';
import { sendRetry } from '../../src/worker/followups.js';
import { fixtureMessages, wireFromRedisEnvelope } from '../support/fixtures.js';

describe('retry messages', () => {
  test('match what Python sends (worker_task_retry)', async () => {
    const [original, pythonRetry] = fixtureMessages('worker_task_retry');
    assert.ok(original && pythonRetry);
    const accept = normalizeAccept(['json']);
    const message = decodeTaskMessage(wireFromRedisEnvelope(original.envelope), accept);
    const expected = decodeTaskMessage(wireFromRedisEnvelope(pythonRetry.envelope), accept);

    const now = 1_795_585_400_000;
    const app = new Celery(
      't',
      { broker: 'memory://', backend: 'memory://' },
      { clock: { now: () => now, monotonic: () => now } },
    );
    await sendRetry(app, message, 'celery', 1, {});
    const transport = await app.connection();
    const delivery = await new Promise<Delivery>((resolve) => {
      const consumer = transport.consume({
        queues: ['celery'],
        prefetch: 1,
        onDelivery: (d) => {
          void consumer.close();
          resolve(d);
        },
      });
    });
    const ours = decodeTaskMessage(delivery.message, accept);
    for (const field of [
      'id',
      'task',
      'args',
      'kwargs',
      'retries',
      'parentId',
      'rootId',
      'group',
      'timeLimit',
      'argsrepr',
      'kwargsrepr',
    ] as const) {
      assert.deepEqual(ours[field], expected[field], field);
    }
    assert.equal(ours.retries, 1);
    assert.equal(ours.parentId, message.id, 'parent_id is the task itself, as Python sends it');
    assert.equal(ours.eta, now + 1000);
    await app.close();
  });

  test("Celery's exponential backoff: factor * 2**retries, capped, with full jitter", () => {
    const plain = [0, 1, 2, 3, 10].map((retries) =>
      exponentialBackoff({ factor: 1, retries, maximum: 600, fullJitter: false }),
    );
    assert.deepEqual(plain, [1, 2, 4, 8, 600]);
    assert.equal(
      exponentialBackoff({ factor: 3, retries: 2, maximum: 600, fullJitter: false }),
      12,
    );
    const jittered = exponentialBackoff({
      factor: 1,
      retries: 3,
      maximum: 600,
      fullJitter: true,
      random: () => 0.5,
    });
    assert.equal(jittered, 4, 'floor(random * (countdown + 1))');
    assert.equal(
      exponentialBackoff({
        factor: 1,
        retries: 3,
        maximum: 600,
        fullJitter: true,
        random: () => 0,
      }),
      0,
    );
  });
});
