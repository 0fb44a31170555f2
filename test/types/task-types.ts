/**
 * Compile-time checks of the public API. `@ts-expect-error` marks what must NOT compile:
 * tsc fails ("Unused '@ts-expect-error' directive") if such a line ever starts compiling.
 * This file is type-checked by `tsc --noEmit` in the test command; it is never run.
 */
import { BaseTask, Celery, type AsyncResult, type TaskContext } from '../../src/index.js';

const app = new Celery('types', { broker: 'memory://', backend: 'memory://' });

const add = app.task((x: number, y: number) => x + y, { name: 'tasks.add' });
const greet = app.task(async (name: string) => `hello ${name}`, { name: 'tasks.greet' });
const bound = app.task((ctx: TaskContext, n: number) => `${ctx.request.id}:${n}`, {
  name: 'tasks.bound',
  bind: true,
});

class Mul extends BaseTask<[number, number], number> {
  static override options = { name: 'tasks.mul' };
  run(x: number, y: number): number {
    return x * y;
  }
}
const mul = app.task(Mul);

export async function checks(): Promise<void> {
  // Calling directly runs in-process and returns the function's own return type.
  const eight: number = add(4, 4);
  const hello: Promise<string> = greet('you');
  // @ts-expect-error a string is not a number
  add('a', 2);
  // @ts-expect-error too few arguments
  add(1);

  // delay() type-checks its arguments, and get() has the task's return type.
  const res: AsyncResult<number> = await add.delay(4, 4);
  const n: number = await res.get();
  // @ts-expect-error wrong argument type
  await add.delay('a', 2);
  // @ts-expect-error too many arguments
  await add.delay(1, 2, 3);
  // @ts-expect-error the result is a number, not a string
  const s: string = await res.get();

  // async tasks resolve to the awaited type
  const g: string = await (await greet.delay('x')).get();
  // @ts-expect-error not a number
  const gn: number = await (await greet.delay('x')).get();

  // bound tasks: the context is not part of the call signature
  const b: string = await (await bound.delay(3)).get();
  // @ts-expect-error the context is supplied by the worker
  await bound.delay({} as TaskContext, 3);

  // class-based tasks
  const m: number = await (await mul.delay(6, 7)).get();
  // @ts-expect-error wrong type
  await mul.delay('6', 7);

  // applyAsync: full args, or partial args with kwargs
  await add.applyAsync([1, 2], null, { countdown: 10, queue: 'q' });
  await add.applyAsync([], { x: 1, y: 2 });
  // @ts-expect-error wrong argument type in applyAsync
  await add.applyAsync(['1', 2]);
  // @ts-expect-error unknown option
  await add.applyAsync([1, 2], null, { countdwn: 10 });

  // Typing a task this module does not import: by its type, or by a declared signature.
  const viaType: AsyncResult<number> = await app.sendTask<typeof add>('tasks.add', [1, 2]);
  // @ts-expect-error wrong argument types for typeof add
  await app.sendTask<typeof add>('tasks.add', ['1', 2]);
  const pyAdd = app.remoteTask<[x: number, y: number], number>('tasks.add');
  const py: number = await (await pyAdd.delay(1, 2)).get();
  // @ts-expect-error wrong argument type for the declared Python task
  await pyAdd.delay('1', 2);

  // Signatures carry the result type.
  const sig = add.s(1);
  const full = add.si(1, 2);
  // @ts-expect-error immutable signatures need every argument
  add.si(1);
  void [eight, hello, n, s, g, gn, b, m, viaType, py, sig, full];
}
