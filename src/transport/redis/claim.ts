/**
 * One call of the CLAIM script (scripts.ts) and its reply: up to `want` messages popped from
 * `keys` and recorded in `unacked`/`unacked_index` in one atomic step, with the acks waiting
 * to be written sent along. RECLAIM gets the messages of a claim whose reply was lost.
 */
import type { Redis } from 'ioredis';
import { quotePython } from '../../serialization/json.js';
import { epochSeconds } from './held.js';
import type { KeyLayout } from './keys.js';
import { CLAIM, RECLAIM } from './scripts.js';
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

/**
 * Which claim of which consumer: the record of a consumer's last claim that got messages is
 * kept in `<prefix>celeriac.claim.<consumer>` for `ttl` seconds (the visibility timeout).
 */
export interface ClaimId {
  consumer: string;
  id: string;
  ttl: number;
}

function recordKey(layout: KeyLayout, consumer: string): string {
  return `${layout.prefix}celeriac.claim.${consumer}`;
}

/** Removes a closing consumer's claim record (it would expire anyway). */
export async function forgetClaims(
  client: Redis,
  layout: KeyLayout,
  consumer: string,
): Promise<void> {
  await client.del(recordKey(layout, consumer));
}

/**
 * Claims up to `want` messages; `pre` (popped by BRPOP) is recorded first. `track`: the
 * connection has CLIENT TRACKING on, and a claim that drains the lists reads them last, so
 * that the next write to any of them invalidates it (wakeup.ts).
 */
export async function claim(
  client: Redis,
  layout: KeyLayout,
  keys: readonly ConsumeKey[],
  want: number,
  ackTags: readonly string[],
  pre: PrePopped | undefined,
  who: ClaimId,
  track = false,
): Promise<Claimed[]> {
  const ttl = Math.max(1, Math.ceil(who.ttl));
  const args: Array<string | number> = [
    epochSeconds(),
    want,
    who.id,
    ttl,
    track ? '1' : '0',
    ackTags.length,
    ...ackTags,
    ...keys.map((k) => quotePython(k.queue)),
  ];
  if (pre) args.push(keys.findIndex((k) => k.key === pre.key) + 1, pre.raw);
  const reply = await CLAIM.run(
    client,
    [
      layout.unacked,
      layout.unackedIndex,
      layout.redeliveries,
      recordKey(layout, who.consumer),
      ...keys.map((k) => k.key),
    ],
    args,
  );
  return parseClaimed(reply, keys);
}

/**
 * The messages of claim `who` if it ran although its reply was lost (`keys` as given to that
 * claim); none when it never ran. The caller holds them from now on.
 */
export async function reclaim(
  client: Redis,
  layout: KeyLayout,
  keys: readonly ConsumeKey[],
  who: ClaimId,
): Promise<Claimed[]> {
  const reply = await RECLAIM.run(
    client,
    [layout.unacked, layout.unackedIndex, recordKey(layout, who.consumer)],
    [epochSeconds(), who.id],
  );
  return parseClaimed(reply, keys);
}

function parseClaimed(reply: unknown, keys: readonly ConsumeKey[]): Claimed[] {
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
