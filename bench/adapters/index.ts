/** Every system the benchmark knows, by id. */
import type { SystemAdapter } from '../lib/types.js';
import { beeQueue } from './bee-queue.js';
import { bullmq } from './bullmq.js';
import { celeriac, celeriacSqlite } from './celeriac.js';
import { celeryNode } from './celery-node.js';
import { celeryPy } from './celery-py.js';

/** Adapters by id (the ids of bench/lib/options.ts ALL_SYSTEMS). */
export const ADAPTERS: ReadonlyMap<string, SystemAdapter> = new Map(
  [celeriac, celeriacSqlite, bullmq, beeQueue, celeryNode, celeryPy].map((a) => [a.id, a]),
);
