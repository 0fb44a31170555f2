/**
 * Sending signatures: turns a signature's Celery-style options (snake_case, as they travel
 * inside messages) into a call, so workers can send callbacks, chain steps and errbacks that
 * a Python or TypeScript worker will run.
 */
import { Signature } from '../canvas/signature.js';
import type { SignatureData } from '../protocol/types.js';
import type { ApplyOptions } from './task-types.js';

/** apply_async options of a signature (wire names) as ApplyOptions. */
export function applyOptionsFromSignature(options: Record<string, unknown>): ApplyOptions {
  const out: ApplyOptions = {};
  const str = (k: string): string | undefined =>
    typeof options[k] === 'string' ? options[k] : undefined;
  const num = (k: string): number | undefined =>
    typeof options[k] === 'number' ? options[k] : undefined;
  const taskId = str('task_id');
  if (taskId !== undefined) out.taskId = taskId;
  const queue = str('queue');
  if (queue !== undefined) out.queue = queue;
  const exchange = str('exchange');
  if (exchange !== undefined) out.exchange = exchange;
  const routingKey = str('routing_key');
  if (routingKey !== undefined) out.routingKey = routingKey;
  const priority = num('priority');
  if (priority !== undefined) out.priority = priority;
  const countdown = num('countdown');
  if (countdown !== undefined) out.countdown = countdown;
  const eta = options.eta;
  if (typeof eta === 'string' || typeof eta === 'number') out.eta = eta;
  const expires = options.expires;
  if (typeof expires === 'string' || typeof expires === 'number') out.expires = expires;
  const timeLimit = num('time_limit');
  if (timeLimit !== undefined) out.timeLimit = timeLimit;
  const soft = num('soft_time_limit');
  if (soft !== undefined) out.softTimeLimit = soft;
  if (typeof options.ignore_result === 'boolean') out.ignoreResult = options.ignore_result;
  if (typeof options.headers === 'object' && options.headers !== null)
    out.headers = options.headers as Record<string, unknown>;
  const shadow = str('shadow');
  if (shadow !== undefined) out.shadow = shadow;
  const link = signatureList(options.link);
  if (link) out.link = link;
  const linkError = signatureList(options.link_error);
  if (linkError) out.linkError = linkError;
  return out;
}

function signatureList(value: unknown): Signature[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = Array.isArray(value) ? value : [value];
  return list
    .filter(
      (v): v is SignatureData | Record<string, unknown> => typeof v === 'object' && v !== null,
    )
    .map((v) =>
      'subtaskType' in v
        ? Signature.fromData(v as SignatureData)
        : new Signature({
            task: String((v as { task?: unknown }).task),
            args: Array.isArray(v.args) ? (v.args as unknown[]) : [],
            kwargs: (v.kwargs as Record<string, unknown>) ?? {},
            options: (v.options as Record<string, unknown>) ?? {},
            immutable: v.immutable === true,
          }),
    );
}
