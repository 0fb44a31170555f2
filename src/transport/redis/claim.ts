/**
 * One call of the CLAIM script (scripts.ts) and its reply: up to `want` messages popped from
 * `keys` and recorded in `unacked`/`unacked_index` in one atomic step, with the acks waiting
 * to be written sent along.
 */
import type { Redis } from 'ioredis';
import { epochSeconds } from './held.js';
import type { KeyLayout } from './keys.js';
import { CLAIM } from './scripts.js';
import type { ConsumeKey, PrePopped } from './wakeup.js';

/** A claimed message. */
export interface Claimed {
  /** The list it came from (undefined only if the server answered nonsense). */
  source: ConsumeKey | undefined;
  /** The envelope exactly as it was in the list. */
  raw: string;
  /** Its key in `unacked`. */
  tag: string;
  /** Times our restores put it back (0 when it is not marked redelivered). */
  count: number;
}

/** Claims up to `want` messages; `pre` (popped by BRPOP) is recorded first. */
export async function claim(
  client: Redis,
  layout: KeyLayout,
  keys: readonly ConsumeKey[],
  want: number,
  ackTags: readonly string[],
  pre?: PrePopped,
): Promise<Claimed[]> {
  const args: Array<string | number> = [epochSeconds(), want, ackTags.length, ...ackTags];
  if (pre) args.push(keys.findIndex((k) => k.key === pre.key) + 1, pre.raw);
  const reply = await CLAIM.run(
    client,
    [layout.unacked, layout.unackedIndex, layout.redeliveries, ...keys.map((k) => k.key)],
    args,
  );
  const flat = Array.isArray(reply) ? (reply as unknown[]) : [];
  const out: Claimed[] = [];
  for (let i = 0; i + 3 < flat.length; i += 4) {
    out.push({
      source: keys[Number(flat[i]) - 1],
      raw: String(flat[i + 1]),
      tag: String(flat[i + 2]),
      count: Number(flat[i + 3]),
    });
  }
  return out;
}
