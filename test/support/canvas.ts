/**
 * Helpers for canvas tests: an app with the fixtures' tasks, capturing what its producer
 * publishes, and comparing our messages with Python's with random ids factored out.
 */
import { Celery, type TaskContext } from '../../src/index.js';
import type { WireMessage } from '../../src/protocol/types.js';
import { jsonLoads } from '../../src/serialization/json.js';
import type { FixtureMessage } from './fixtures.js';

/** An app with the fixtures' tasks (tasks.add, mul, xsum, fail, on_error, echo). */
export function fixtureApp(config: Record<string, unknown> = {}) {
  const app = new Celery('canvas', { broker: 'memory://', backend: 'memory://', ...config });
  const add = app.task((x: number, y: number) => x + y, { name: 'tasks.add' });
  const mul = app.task((x: number, y: number) => x * y, { name: 'tasks.mul' });
  const xsum = app.task((numbers: number[]) => numbers.reduce((a, b) => a + b, 0), {
    name: 'tasks.xsum',
  });
  const fail = app.task(
    (message: string): number => {
      throw new RangeError(message);
    },
    { name: 'tasks.fail' },
  );
  const onError = app.task((taskId: string) => `errback saw ${taskId}`, { name: 'tasks.on_error' });
  const echo = app.task(
    (ctx: TaskContext, ...args: unknown[]) => ({ args, kwargs: ctx.request.kwargs }),
    {
      name: 'tasks.echo',
      bind: true,
      kwargsTo: 'context',
    },
  );
  return { app, add, mul, xsum, fail, onError, echo };
}

/** What the app did, in order: published messages and chord sizes stored. */
export type Event =
  { kind: 'send'; wire: WireMessage } | { kind: 'chord-size'; groupId: string; size: number };

/**
 * Records what `app` publishes (and, when `forward`, still publishes it) and the chord sizes
 * it stores.
 */
export async function record(app: Celery, forward = false): Promise<Event[]> {
  const events: Event[] = [];
  const producer = app.producer;
  const publish = producer.publish.bind(producer);
  producer.publish = async (wire, route, options, priority) => {
    events.push({ kind: 'send', wire });
    if (forward) await publish(wire, route, options, priority);
  };
  const backend = await app.backend();
  const setChordSize = backend.setChordSize.bind(backend);
  backend.setChordSize = async (groupId, size, options) => {
    events.push({ kind: 'chord-size', groupId, size });
    await setChordSize(groupId, size, options);
  };
  return events;
}

/** The messages among the events. */
export function sent(events: readonly Event[]): WireMessage[] {
  return events.flatMap((e) => (e.kind === 'send' ? [e.wire] : []));
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** Texts with every UUID replaced by `<n>`, numbered by first appearance across all texts. */
export function withoutIds(texts: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return texts.map((t) =>
    t.replace(UUID, (id) => {
      if (!seen.has(id)) seen.set(id, seen.size);
      return `<${seen.get(id)}>`;
    }),
  );
}

/**
 * A message as comparable text: headers (without origin) and the body, each re-encoded
 * compactly in their own key order (byte-exact JSON spacing is not required, spec §0.4).
 */
export function messageText(headers: Record<string, unknown>, body: Buffer): string[] {
  const { origin: _origin, ...rest } = headers;
  return [JSON.stringify(rest), JSON.stringify(jsonLoads(body.toString('utf8')))];
}

/** Our messages and Python's, as texts with ids numbered (so equal texts = same shape and same id relations). */
export function compareTexts(
  ours: readonly WireMessage[],
  python: readonly FixtureMessage[],
): [string[], string[]] {
  const a = withoutIds(ours.flatMap((w) => messageText(w.headers, w.body)));
  const b = withoutIds(
    python.flatMap((m) => messageText(m.envelope.headers, Buffer.from(m.envelope.body, 'base64'))),
  );
  return [a, b];
}
