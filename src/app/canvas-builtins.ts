/**
 * Celery's builtin tasks that canvases rely on, so a celeriac worker runs the messages a
 * Python client (or we) send for them: `celery.map` / `celery.starmap` (xmap, xstarmap,
 * chunks) and `celery.accumulate` (the body of a group that replaced a task).
 */
import { NotRegistered } from '../errors.js';
import { signatureFromWire } from '../protocol/signature.js';
import type { Celery } from './celery.js';
import type { TaskContext } from './task-types.js';

/** Registers the builtins on `app` (Celery registers them on every app). */
export function registerCanvasBuiltins(app: Celery): void {
  app.task(
    (ctx: TaskContext, ...args: unknown[]) => {
      const index = ctx.request.kwargs['index'];
      return typeof index === 'number' ? args[index] : args;
    },
    { name: 'celery.accumulate', bind: true, kwargsTo: 'context', typing: false },
  );
  const mapper =
    (star: boolean) =>
    async (task: unknown, it: unknown): Promise<unknown[]> => {
      const sig = signatureFromWire(task);
      const def = app.tasks.get(sig.task);
      if (!def || !def.local) throw new NotRegistered(sig.task);
      const out: unknown[] = [];
      for (const item of Array.isArray(it) ? (it as unknown[]) : []) {
        const args = star ? (Array.isArray(item) ? (item as unknown[]) : [item]) : [item];
        out.push(await app.callDirect(def, args));
      }
      return out;
    };
  app.task(mapper(false), { name: 'celery.map', params: ['task', 'it'] });
  app.task(mapper(true), { name: 'celery.starmap', params: ['task', 'it'] });
}
