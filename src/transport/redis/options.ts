/**
 * The Redis transport's options (Celery's `broker_transport_options`), camelCase or
 * snake_case, with kombu's defaults and celeriac's additions.
 */
import { ConfigError } from '../../errors.js';
import { KOMBU_PRIORITY_STEPS, KOMBU_SEP } from './keys.js';
import { normalizeOptions } from './url.js';

/** How an idle consumer learns that a message arrived. */
export type WakeMode = 'auto' | 'tracking' | 'brpop';

/** Resolved settings (seconds unless the name says otherwise). */
export interface RedisTransportSettings {
  /** kombu's visibility_timeout: a held message not touched for this long is restored. */
  visibilityTimeout: number;
  /** kombu's unacked_mutex_expire. */
  unackedMutexExpire: number;
  /** Most stale messages restored per batch of a restore pass (kombu's unacked_restore_limit). */
  unackedRestoreLimit: number;
  /** How often a consumer's process runs a restore pass. Default: visibilityTimeout / 4, at most 60. */
  restoreInterval: number;
  /** How often held deliveries get a fresh `unacked_index` score. Default: visibilityTimeout / 4. */
  touchInterval: number;
  prioritySteps: readonly number[];
  sep: string;
  globalKeyprefix: string;
  fanoutPrefix: boolean | string;
  fanoutPatterns: boolean;
  unackedKey: string;
  unackedIndexKey: string;
  unackedMutexKey: string;
  /** How long connect() waits for the server. */
  connectTimeout: number;
  /** Most messages claimed in one round trip (and the batch when prefetch is 0). */
  claimBatch: number;
  /**
   * How long a late ack may wait for the consumer's next claim to carry it before it goes out
   * on its own (0: on the next turn of the loop). A crash in that window redelivers the task.
   */
  ackDelay: number;
  /** 'tracking' = CLIENT TRACKING invalidations (no loss window), 'brpop' = kombu's BRPOP, 'auto' = tracking if the server allows it. */
  wakeMode: WakeMode;
  /** An idle consumer re-checks its queues this often anyway (and counts as alive). */
  idleRecheckInterval: number;
  /**
   * An idle consumer of one queue blocks in BLMOVE and is handed its next message
   * (handoff.ts); false (the default): it is woken to claim it. Experimental: see DESIGN.md
   * for what is not settled yet.
   */
  handOff: boolean;
  /** A hand-off list not refreshed for this long belongs to a consumer that went away: restored. */
  handOffStaleAfter: number;
  /** How often consumers look for due deferred messages that nobody scheduled locally. */
  delayedSweepInterval: number;
  /** `CLIENT SETNAME` prefix of our connections. */
  clientName: string;
}

/** Reads the options; unknown keys are ignored (they may be meant for another transport). */
export function transportSettings(raw: Record<string, unknown>): RedisTransportSettings {
  const o = normalizeOptions(raw);
  const visibilityTimeout = seconds(o, 'visibilityTimeout', 3600);
  const idleRecheckInterval = seconds(o, 'idleRecheckInterval', 10);
  const handOffStaleAfter = seconds(o, 'handOffStaleAfter', Math.max(60, 3 * idleRecheckInterval));
  if (handOffStaleAfter <= idleRecheckInterval) {
    // A consumer blocked in BLMOVE refreshes its entry once per idleRecheckInterval: a
    // shorter limit would restore the lists of live consumers.
    throw new ConfigError(
      `The Redis transport option handOffStaleAfter (${handOffStaleAfter} s) must be longer than idleRecheckInterval (${idleRecheckInterval} s)`,
      {
        setting: 'handOffStaleAfter',
        hint: `e.g. { handOffStaleAfter: ${3 * idleRecheckInterval} }`,
      },
    );
  }
  return {
    visibilityTimeout,
    unackedMutexExpire: seconds(o, 'unackedMutexExpire', 300),
    unackedRestoreLimit: integer(o, 'unackedRestoreLimit', 1000),
    restoreInterval: seconds(o, 'restoreInterval', Math.min(60, visibilityTimeout / 4)),
    touchInterval: seconds(o, 'touchInterval', visibilityTimeout / 4),
    prioritySteps: steps(o['prioritySteps']),
    sep: typeof o['sep'] === 'string' && o['sep'] !== '' ? o['sep'] : KOMBU_SEP,
    globalKeyprefix: typeof o['globalKeyprefix'] === 'string' ? o['globalKeyprefix'] : '',
    fanoutPrefix:
      typeof o['fanoutPrefix'] === 'string' || typeof o['fanoutPrefix'] === 'boolean'
        ? o['fanoutPrefix']
        : true,
    fanoutPatterns: typeof o['fanoutPatterns'] === 'boolean' ? o['fanoutPatterns'] : true,
    unackedKey: str(o, 'unackedKey', 'unacked'),
    unackedIndexKey: str(o, 'unackedIndexKey', 'unacked_index'),
    unackedMutexKey: str(o, 'unackedMutexKey', 'unacked_mutex'),
    connectTimeout: seconds(o, 'connectTimeout', seconds(o, 'socketConnectTimeout', 5)),
    claimBatch: integer(o, 'claimBatch', 500),
    ackDelay: seconds(o, 'ackDelay', 0.002, true),
    wakeMode: wakeMode(o['wakeMode']),
    idleRecheckInterval,
    handOff: bool(o, 'handOff', false),
    handOffStaleAfter,
    delayedSweepInterval: seconds(o, 'delayedSweepInterval', 5),
    clientName: str(o, 'clientName', 'celeriac'),
  };
}

function seconds(o: Record<string, unknown>, key: string, fallback: number, zero = false): number {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (v === 0 && !zero)) {
    throw new ConfigError(
      `The Redis transport option ${key} must be a ${zero ? 'non-negative' : 'positive'} number of seconds, not ${JSON.stringify(v)}`,
      {
        setting: key,
        hint: `e.g. { ${key}: ${fallback} }`,
      },
    );
  }
  return v;
}

function integer(o: Record<string, unknown>, key: string, fallback: number): number {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new ConfigError(
      `The Redis transport option ${key} must be a positive integer, not ${JSON.stringify(v)}`,
      {
        setting: key,
        hint: `e.g. { ${key}: ${fallback} }`,
      },
    );
  }
  return v;
}

function bool(o: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') {
    throw new ConfigError(
      `The Redis transport option ${key} must be true or false, not ${JSON.stringify(v)}`,
      { setting: key, hint: `e.g. { ${key}: ${String(fallback)} }` },
    );
  }
  return v;
}

function str(o: Record<string, unknown>, key: string, fallback: string): string {
  const v = o[key];
  return typeof v === 'string' && v !== '' ? v : fallback;
}

function steps(v: unknown): readonly number[] {
  if (v === undefined || v === null) return KOMBU_PRIORITY_STEPS;
  if (
    !Array.isArray(v) ||
    v.length === 0 ||
    !v.every((s) => Number.isInteger(s) && (s as number) >= 0)
  ) {
    throw new ConfigError(
      `The Redis transport option prioritySteps must be a list of integers, not ${JSON.stringify(v)}`,
      {
        setting: 'prioritySteps',
        hint: 'kombu uses [0, 3, 6, 9]',
      },
    );
  }
  return v as number[];
}

function wakeMode(v: unknown): WakeMode {
  if (v === undefined || v === null) return 'auto';
  if (v === 'auto' || v === 'tracking' || v === 'brpop') return v;
  throw new ConfigError(
    `The Redis transport option wakeMode must be 'auto', 'tracking' or 'brpop', not ${JSON.stringify(v)}`,
    {
      setting: 'wakeMode',
    },
  );
}
