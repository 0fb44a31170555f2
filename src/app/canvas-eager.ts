/**
 * Canvases run in this process (`taskAlwaysEager`), as Celery's `apply()` runs them: a
 * chain step by step with each result prepended to the next step's arguments, a group
 * member by member, a chord's header then its body with the list of results.
 */
import { bodyOf, fromWire, groupData, mapData, membersOf } from '../canvas/compose.js';
import { NotRegistered } from '../errors.js';
import type { SignatureData } from '../protocol/types.js';
import { uuid } from '../util/ids.js';
import type { ResultLike } from './async-result.js';
import type { Celery } from './celery.js';
import { GroupResult } from './group-result.js';

/** Runs a canvas now and returns its (ready) result handle. */
export async function applyEager(
  app: Celery,
  sig: SignatureData,
  args: readonly unknown[],
  kwargs: Record<string, unknown>,
): Promise<ResultLike> {
  const partial = sig.immutable ? [] : [...args];
  switch (sig.subtaskType) {
    case 'chain': {
      let last: ResultLike | null = null;
      let first = true;
      for (const step of membersOf(sig)) {
        const stepArgs: unknown[] = first ? partial : last ? [await last.get()] : [];
        last = await applyEager(app, step, stepArgs, first ? kwargs : {});
        first = false;
      }
      if (!last) throw new NotRegistered('celery.chain (empty chain)');
      return last;
    }
    case 'group': {
      const results: ResultLike[] = [];
      for (const member of membersOf(sig))
        results.push(await applyEager(app, member, partial, kwargs));
      return new GroupResult(str(sig.options['task_id']) ?? uuid(), results, app);
    }
    case 'chord': {
      const results: ResultLike[] = [];
      for (const member of membersOf(sig))
        results.push(await applyEager(app, member, partial, kwargs));
      const values = await new GroupResult(uuid(), results, app).get();
      const body = bodyOf(sig);
      if (!body) throw new NotRegistered('celery.chord (no body)');
      return applyEager(app, body, [values], {});
    }
    case 'chunks': {
      const it = Array.isArray(sig.kwargs['it']) ? (sig.kwargs['it'] as unknown[]) : [];
      const n = Math.max(1, typeof sig.kwargs['n'] === 'number' ? sig.kwargs['n'] : 1);
      const task = fromWire(sig.kwargs['task']);
      const parts: SignatureData[] = [];
      for (let i = 0; i < it.length; i += n) parts.push(mapData(task, it.slice(i, i + n), true));
      return applyEager(app, groupData(parts), [], {});
    }
    case 'xmap':
    case 'xstarmap':
    case null: {
      const def = app.tasks.get(sig.task);
      if (!def || !def.local) throw new NotRegistered(sig.task);
      const callArgs =
        sig.subtaskType === 'xmap' || sig.subtaskType === 'xstarmap'
          ? []
          : [...partial, ...sig.args];
      const callKwargs =
        sig.subtaskType === 'xmap' || sig.subtaskType === 'xstarmap'
          ? { task: sig.kwargs['task'], it: sig.kwargs['it'] }
          : { ...sig.kwargs, ...kwargs };
      return app.applyLocal(def, callArgs, callKwargs);
    }
  }
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}
