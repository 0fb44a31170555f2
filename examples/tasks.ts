/**
 * The tutorial module: the tasks of Celery's "First steps", on the embedded default (a SQLite
 * file in .celeriac/, no server). Set CELERY_BROKER_URL / CELERY_RESULT_BACKEND to use Redis.
 *
 *   npx celeriac -A examples/tasks.ts worker --loglevel=info
 *   npx celeriac -A examples/tasks.ts call tasks.add --args '[4, 4]'
 */
import { Celery } from '../src/index.js';

export const app = new Celery('tasks');

/** Adds two numbers. */
export const add = app.task((x: number, y: number) => x + y, { name: 'tasks.add' });

/** Multiplies two numbers. */
export const mul = app.task((x: number, y: number) => x * y, { name: 'tasks.mul' });

/** Sums a list of numbers. */
export const xsum = app.task((numbers: number[]) => numbers.reduce((a, b) => a + b, 0), {
  name: 'tasks.xsum',
});

/** Always fails, with the given message. */
export const fail = app.task(
  (message: string): never => {
    throw new Error(message);
  },
  { name: 'tasks.fail' },
);

/** Waits, then returns the number of seconds it waited. */
export const sleep = app.task(
  async (seconds: number) => {
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    return seconds;
  },
  { name: 'tasks.sleep' },
);

/** Returns its positional and keyword arguments, as Python's `echo(*args, **kwargs)`. */
export const echo = app.task((ctx, ...args: unknown[]) => ({ args, kwargs: ctx.request.kwargs }), {
  name: 'tasks.echo',
  bind: true,
  kwargsTo: 'context',
});
