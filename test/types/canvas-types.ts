/**
 * Compile-time checks of the canvas API. `@ts-expect-error` marks what must NOT compile:
 * tsc fails ("Unused '@ts-expect-error' directive") if such a line ever starts compiling.
 * This file is type-checked by `tsc --noEmit`; it is never run.
 */
import {
  Celery,
  chain,
  chord,
  group,
  xmap,
  type AsyncResult,
  type GroupResult,
  type Signature,
  type TaskContext,
} from '../../src/index.js';

const app = new Celery('types', { broker: 'memory://', backend: 'memory://' });

const add = app.task((x: number, y: number) => x + y, { name: 'tasks.add' });
const mul = app.task((x: number, y: number) => x * y, { name: 'tasks.mul' });
const xsum = app.task((numbers: number[]) => numbers.reduce((a, b) => a + b, 0), {
  name: 'tasks.xsum',
});
const greet = app.task(async (name: string) => `hello ${name}`, { name: 'tasks.greet' });
const shout = app.task((text: string, times: number) => text.repeat(times), {
  name: 'tasks.shout',
});
const len = app.task((text: string) => text.length, { name: 'tasks.len' });
const pair = app.task((a: number, b: string) => ({ a, b }), { name: 'tasks.pair' });
const echo = app.task((...args: unknown[]) => args, { name: 'tasks.echo' });

export async function checks(): Promise<void> {
  // ---- signatures ------------------------------------------------------------------------
  // Full arguments: complete. Without the first: takes the previous result (a number here).
  const full: Signature<number, never, 'single'> = add.s(2, 2);
  const partial: Signature<number, number, 'single'> = add.s(2);
  const immutable: Signature<number, unknown, 'single'> = add.si(2, 2);
  // @ts-expect-error wrong argument type
  add.s('2');
  // @ts-expect-error too many arguments
  add.s(1, 2, 3);
  // Partial arguments are the trailing ones: mul.s(4) runs mul(previous, 4).
  const tail: Signature<string, string, 'single'> = shout.s(3);
  // @ts-expect-error shout's trailing argument is a number
  shout.s('x');

  // delay() on a signature: nothing for a complete one, the missing first argument otherwise.
  const r1: AsyncResult<number> = await full.delay();
  const r2: AsyncResult<number> = await partial.delay(5);
  // @ts-expect-error a complete signature takes no more arguments
  await full.delay(1);
  // @ts-expect-error the missing argument is a number
  await partial.delay('5');

  // ---- chains: each step receives the previous step's result ----------------------------
  const c1 = chain(add.s(1, 2), add.s(3), mul.s(4));
  const c1r: AsyncResult<number> = await c1.applyAsync();
  const c1v: number = await c1r.get();
  // The fluent form.
  const c2: AsyncResult<string> = await greet.s('you').pipe(len.s()).pipe(shout.si('a', 2)).delay();
  const c3 = chain(greet.s('you'), len.s(), add.s(1));
  const c3r: AsyncResult<number> = await c3.delay();
  // @ts-expect-error greet returns a string; add.s(3) takes a number
  chain(greet.s('you'), add.s(3));
  // @ts-expect-error len takes a string; add returns a number
  add.s(1, 2).pipe(len.s());
  // @ts-expect-error a complete signature cannot take the previous result
  chain(add.s(1, 2), add.s(3, 4));
  // @ts-expect-error a complete signature cannot take the previous result
  add.s(1, 2).pipe(mul.s(2, 2));
  // An immutable step ignores the previous result: any type goes.
  chain(greet.s('you'), add.si(1, 2));
  // A variadic task takes anything.
  chain(greet.s('you'), echo.s());

  // ---- groups and chords: the body receives the header's results as an array ------------
  const g = group([1, 2, 3].map((i) => add.s(i, i)));
  const gr: GroupResult<number[]> = await g.applyAsync();
  const gv: number[] = await gr.get();
  const tuple = group(add.s(1, 1), greet.s('x'));
  const tr = await tuple.delay();
  const tv: [number, string] = await tr.get();
  // @ts-expect-error the results are [number, string], not numbers
  const tn: number[] = await tr.get();

  const ch = chord(
    [1, 2, 3].map((i) => add.s(i, i)),
    xsum.s(),
  );
  const chr: AsyncResult<number> = await ch.applyAsync();
  const chv: number = await chr.get();
  const viaPipe: AsyncResult<number> = await group(add.s(1, 1), add.s(2, 2)).pipe(xsum.s()).delay();
  // @ts-expect-error xsum takes numbers; the header returns strings
  chord([greet.s('a'), greet.s('b')], xsum.s());
  // @ts-expect-error the body's argument is complete already
  chord([add.s(1, 1)], xsum.s([1, 2]));
  // @ts-expect-error len takes a string, not the list of results
  group(add.s(1, 1), add.s(2, 2)).pipe(len.s());

  // A chain through a chord: the chord body's result goes on.
  const through: AsyncResult<number> = await chain(
    add.s(1, 1),
    group(add.s(1), mul.s(2)),
    xsum.s(),
    mul.s(10),
  ).delay();
  // @ts-expect-error the group's members take the previous number, not a string
  chain(greet.s('x'), group(add.s(1), mul.s(2)));
  // A chain ending in a group gives the group's results.
  const endsInGroup: GroupResult<[number, number]> = await chain(
    add.s(1, 1),
    group(add.s(1), mul.s(2)),
  ).delay();

  // ---- map, starmap, chunks -----------------------------------------------------------------
  const mapped: AsyncResult<string[]> = await greet.map(['a', 'b']).delay();
  const starred: AsyncResult<number[]> = await add
    .starmap([
      [1, 2],
      [3, 4],
    ])
    .delay();
  const chunked: GroupResult<number[][]> = await add
    .chunks(
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      2,
    )
    .delay();
  const viaXmap: AsyncResult<number[]> = await xmap(len.s(), ['a']).delay();
  // @ts-expect-error greet takes strings
  greet.map([1, 2]);
  // @ts-expect-error add takes two numbers per call
  add.starmap([[1, 'a']]);
  // @ts-expect-error len takes strings
  xmap(len.s(), [1]);

  // ---- links and replacement --------------------------------------------------------------
  add.s(1, 2).link(mul.s(2)).onError(greet.si('error'));
  await add.applyAsync([1, 2], null, {
    link: chain(mul.s(2), add.s(1)),
    linkError: pair.si(1, 'x'),
  });
  const replacer = app.task(
    (ctx: TaskContext, n: number): number =>
      n > 0 ? ctx.replace(chain(add.s(n, 1), mul.s(2))) : 0,
    { name: 'tasks.replacer', bind: true },
  );
  void [full, partial, immutable, tail, r1, r2, c1v, c2, c3r, gv, tv, tn, chv, viaPipe];
  void [through, endsInGroup, mapped, starred, chunked, viaXmap, replacer];
}
