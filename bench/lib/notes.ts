/**
 * The lines printed under the table: how to read it, how each system was set up, what did not
 * run and why, the Redis ceiling, and where celeriac's Redis round trips go.
 */
import type { CeilingResult } from './redis.js';
import type { SteadyRecord } from './scenarios.js';
import { fmt, fmtSummary, summarize } from './stats.js';
import { REFERENCE, type SystemResult } from './table.js';

/** What the notes need to know about the run. */
export interface RunFacts {
  readonly n: number;
  readonly latN: number;
  readonly scaleN: number;
  readonly reps: number;
  readonly wallSecs: number;
  readonly redisVersion: string;
  readonly scaleWorkers: number;
}

function ceilingLines(ceiling: ReadonlyArray<CeilingResult & { rep: number }>): string[] {
  if (ceiling.length === 0) return [];
  const tests = [...new Set(ceiling.map((c) => c.test))];
  const pipes = [...new Set(ceiling.map((c) => c.pipeline))].sort((a, b) => a - b);
  const part = (p: number): string =>
    tests
      .map(
        (t) =>
          `${t} ${fmtSummary(summarize(ceiling.filter((c) => c.test === t && c.pipeline === p).map((c) => c.rps)), 0)}`,
      )
      .join(', ');
  return [
    `Redis ceiling (redis-benchmark, 50 clients, requests/s): ${pipes.map((p) => `${p === 1 ? 'one command per round trip' : `-P ${p}`}: ${part(p)}`).join('; ')}.`,
  ];
}

function roundTripLine(s: SystemResult): string | undefined {
  const st = s.records.filter(
    (r): r is SteadyRecord & { rep: number } => r.kind === 'steady' && r.redisPerTask !== undefined,
  );
  if (st.length === 0) return undefined;
  const med = (f: (r: SteadyRecord) => number): number => summarize(st.map(f)).median;
  const cmds = new Set(st.flatMap((r) => Object.keys(r.redisPerTask!.byCommand)));
  const breakdown = [...cmds]
    .map((c) => [c, med((r) => r.redisPerTask!.byCommand[c] ?? 0)] as const)
    .filter(([, v]) => v >= 0.01)
    .sort((a, b) => b[1] - a[1])
    .map(([c, v]) => `${c.toUpperCase()} ${fmt(v, 2)}`)
    .join(', ');
  return `${s.label}: ${fmt(
    med((r) => r.redisPerTask!.reads),
    2,
  )} round trips, ${fmt(
    med((r) => r.redisPerTask!.commands),
    1,
  )} commands (${fmt(
    med((r) => r.redisPerTask!.scriptCalls),
    2,
  )} script calls) per task: ${breakdown}`;
}

/** The notes under the table, as plain lines (also valid markdown). */
export function describeResults(
  systems: readonly SystemResult[],
  ceiling: ReadonlyArray<CeilingResult & { rep: number }>,
  facts: RunFacts,
): string {
  const lines: string[] = [];
  lines.push(
    `N = ${facts.n} tasks per enqueue/drain/end-to-end run, ${facts.scaleN} per long drain (1 and ${facts.scaleWorkers} workers), ${facts.latN} sequential round trips; ${facts.reps} repeat(s); cells: median [min–max] over repeats.`,
    `"vs X": how many times better celeriac is than X (> 1 = celeriac ahead): celeriac ÷ X for rates, X ÷ celeriac for times, memory, CPU and round trips.`,
    `Round trips and commands per task: INFO stats/commandstats deltas over the sequential run, idle background subtracted.`,
    '',
    'Systems:',
  );
  for (const s of systems) {
    const v = Object.entries(s.versions)
      .map(([k, x]) => `${k} ${x}`)
      .join(', ');
    lines.push(
      `- ${s.label}: ${s.notRunnable ? `not runnable (${s.notRunnable})` : `${s.description}${v ? ` [${v}]` : ''}`}`,
    );
  }
  const errors = systems.flatMap((s) =>
    s.errors.map((e) => `- ${s.label}, rep ${e.rep}, ${e.scenario}: ${e.error}`),
  );
  if (errors.length) lines.push('', 'Failed measurements (left out of the table):', ...errors);
  lines.push(
    '',
    `Redis ${facts.redisVersion}, own server, no persistence.`,
    ...ceilingLines(ceiling),
  );
  const rt = systems.map(roundTripLine).filter((x): x is string => x !== undefined);
  if (rt.length)
    lines.push('', 'Redis work per task (sequential round trips):', ...rt.map((l) => `- ${l}`));
  const ref = systems.find((s) => s.id === REFERENCE);
  if (ref?.notRunnable)
    lines.push('', `celeriac: not runnable (${ref.notRunnable}); the ratio columns are empty.`);
  lines.push('', `Wall time ${fmt(facts.wallSecs / 60, 1)} min.`);
  return lines.join('\n');
}
