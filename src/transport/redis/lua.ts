/**
 * Lua scripts run with EVALSHA (the script body crosses the wire once per connection at
 * most): on NOSCRIPT, the script is sent with EVAL, which also caches it on the server.
 */
import { createHash } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';

/** One Lua script, identified by its SHA-1. */
export class LuaScript {
  readonly sha: string;

  constructor(
    /** A short name for errors and logs. */
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Runs the script: EVALSHA, falling back to EVAL when the server does not know it yet. */
  async run(
    client: Redis,
    keys: readonly string[],
    args: ReadonlyArray<string | number | Buffer>,
  ): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }

  /** Adds an EVALSHA of the script to a pipeline/transaction (load it first with {@link ensureLoaded}). */
  queue(
    pipeline: ChainableCommander,
    keys: readonly string[],
    args: ReadonlyArray<string | number | Buffer>,
  ): void {
    pipeline.evalsha(this.sha, keys.length, ...keys, ...args);
  }
}

/** Makes sure every script is cached on the server behind `client` (SCRIPT LOAD), e.g. after a reconnect. */
export async function ensureLoaded(client: Redis, scripts: readonly LuaScript[]): Promise<void> {
  const exists = (await client.script('EXISTS', ...scripts.map((s) => s.sha))) as unknown[];
  await Promise.all(
    scripts.filter((_, i) => exists[i] !== 1).map((s) => client.script('LOAD', s.source)),
  );
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}
