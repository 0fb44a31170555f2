/** The shapes a plan is made of: what the app does to apply a canvas, in order. */
import type { ResultNode } from './results.js';

type Opts = Record<string, unknown>;

/** Ids and the reply_to Celery writes into frozen signatures. */
export interface PlanContext {
  newId(): string;
  /** The client's reply queue (Python's thread oid), written into frozen signatures. */
  replyTo: string | null;
}

/** Publish one task message. `options` are wire options (task_id, group_id, chord, chain...). */
export interface SendStep {
  kind: 'send';
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  options: Opts;
}

/** Store a chord's size (Celery's `set_chord_size`). */
export interface ChordSizeStep {
  kind: 'chord-size';
  groupId: string;
  size: number;
}

/** One thing to do, in order. */
export type PlanStep = SendStep | ChordSizeStep;

/** What applying a canvas does, and the result it promises (null for an empty chain). */
export interface Plan {
  steps: PlanStep[];
  result: ResultNode | null;
}
