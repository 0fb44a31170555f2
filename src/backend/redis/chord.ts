/**
 * Celery's Redis chord join (spec §f.5), pure parts: the `.j` sorted-set member
 * `[1, "<task id>", "<STATE>", <encoded result>]` (Python's JSON spelling, so a member
 * written by Python and by us for the same part are the same member) and its decoding.
 */
import { MessageMalformedError } from '../../errors.js';
import { exceptionInfoFromWire, exceptionInfoToWire } from '../../protocol/exception.js';
import { EXCEPTION_STATES } from '../../protocol/states.js';
import type { ExceptionInfo, TaskMeta } from '../../protocol/types.js';
import { jsonLoads, pyDumps } from '../../serialization/json.js';

/** The keys of a chord: `celery-taskset-meta-<gid>` + `.j` (join), `.s` (size), `.t` (added). */
export function chordKeys(groupId: string): { join: string; size: string; total: string } {
  const base = `celery-taskset-meta-${groupId}`;
  return { join: `${base}.j`, size: `${base}.s`, total: `${base}.t` };
}

/** The `.j` member of a completed header task (its result encoded as in the task meta). */
export function chordMember(meta: TaskMeta): string {
  return pyDumps([1, meta.taskId, meta.status, wireResult(meta)]);
}

/**
 * A `.j` member read back, as a meta: id, state and result (what the join keeps; traceback
 * and dates are not part of it).
 * @throws MessageMalformedError when the member is not `[1, id, state, result]`.
 */
export function chordMemberMeta(member: string): TaskMeta {
  const parsed = jsonLoads(member);
  if (
    !Array.isArray(parsed) ||
    parsed.length < 4 ||
    typeof parsed[1] !== 'string' ||
    typeof parsed[2] !== 'string'
  ) {
    throw new MessageMalformedError(
      `A chord join member is not [1, id, state, result]: ${member.slice(0, 200)}`,
    );
  }
  const [, taskId, status, raw] = parsed as [unknown, string, string, unknown];
  const result = EXCEPTION_STATES.has(status) ? (exceptionInfoFromWire(raw) ?? raw) : raw;
  return { taskId, status, result, traceback: null, children: [], dateDone: null };
}

function wireResult(meta: TaskMeta): unknown {
  return EXCEPTION_STATES.has(meta.status) && isExceptionInfo(meta.result)
    ? exceptionInfoToWire(meta.result)
    : meta.result;
}

function isExceptionInfo(v: unknown): v is ExceptionInfo {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o['excType'] === 'string' &&
    typeof o['excModule'] === 'string' &&
    Array.isArray(o['excMessage'])
  );
}
