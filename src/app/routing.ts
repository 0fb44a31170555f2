/**
 * Routing: which queue a task goes to. Order: the call's `queue`, then `taskRoutes`
 * (exact name or glob), then the task's own `queue` option, then `taskDefaultQueue`.
 * Celery clients publish through the default exchange ('') with the queue name as the
 * routing key, and bind the queue to `taskDefaultExchange` (spec §b.2); so do we.
 */
import { ConfigError } from '../errors.js';
import type { Settings } from './settings.js';
import type { ApplyOptions } from './task-types.js';

/** Where a message goes. */
export interface Route {
  queue: string;
  /** Exchange published to ('' = default exchange, routing by queue name). */
  exchange: string;
  routingKey: string;
  /** Exchange the queue is bound to when declared. */
  bindExchange: string;
}

/** Resolves the route of one call. */
export function resolveRoute(
  conf: Settings,
  taskName: string,
  taskQueue: string | undefined,
  options: Pick<ApplyOptions, 'queue' | 'exchange' | 'routingKey'>,
): Route {
  const queue =
    options.queue ??
    routeFromTable(conf.taskRoutes, taskName) ??
    taskQueue ??
    conf.taskDefaultQueue;
  if (options.exchange !== undefined && options.exchange !== '') {
    return {
      queue,
      exchange: options.exchange,
      routingKey: options.routingKey ?? queue,
      bindExchange: options.exchange,
    };
  }
  return { queue, exchange: '', routingKey: queue, bindExchange: conf.taskDefaultExchange };
}

function routeFromTable(routes: Record<string, unknown>, taskName: string): string | undefined {
  for (const [pattern, target] of Object.entries(routes)) {
    if (!globMatch(pattern, taskName)) continue;
    if (typeof target === 'string') return target;
    if (
      typeof target === 'object' &&
      target !== null &&
      typeof (target as { queue?: unknown }).queue === 'string'
    ) {
      return (target as { queue: string }).queue;
    }
    throw new ConfigError(`taskRoutes['${pattern}'] must be a queue name or { queue: 'name' }`, {
      setting: 'taskRoutes',
    });
  }
  return undefined;
}

function globMatch(pattern: string, name: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === name;
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(name);
}
