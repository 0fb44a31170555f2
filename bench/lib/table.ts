/**
 * The one comparison table: a row per figure, a column per system (median [min–max] over the
 * repeats), then celeriac's advantage over each peer (> 1 = celeriac better). Plain text for
 * the terminal, or markdown.
 */
import type { DrainRecord, ScenarioRecord, SteadyRecord } from './scenarios.js';
import {
  advantage,
  fmtFactor,
  fmtSummary,
  summarize,
  type Direction,
  type Summary,
} from './stats.js';
import type { EnqueueMode } from './types.js';

/** A measurement with the repeat it belongs to. */
export type RepRecord = ScenarioRecord & { readonly rep: number };

/** Everything measured for one system. */
export interface SystemResult {
  readonly id: string;
  readonly label: string;
  readonly description: string;
  readonly versions: Readonly<Record<string, string>>;
  /** Set when the system did not run at all. */
  readonly notRunnable?: string;
  readonly records: readonly RepRecord[];
  readonly errors: ReadonlyArray<{
    readonly rep: number;
    readonly scenario: string;
    readonly error: string;
  }>;
}

/** One figure of the table. */
export interface Metric {
  readonly key: string;
  readonly label: string;
  readonly direction: Direction;
  /** Whether celeriac's advantage is computed for it. */
  readonly compare: boolean;
  /** Decimals (default: by size). */
  readonly digits?: number;
  /** The figure's value in each repeat. */
  values(records: readonly RepRecord[]): number[];
}

/** Enqueue rates of a mode: its own measurements, and the fills of the drains that used it. */
const enq =
  (mode: EnqueueMode) =>
  (rs: readonly RepRecord[]): number[] =>
    rs.flatMap((r) => {
      if (r.kind === 'enqueue' && r.mode === mode) return [r.rate];
      if (r.kind === 'drain' && r.enqueueMode === mode) return [r.n / r.enqueueSecs];
      return [];
    });
/** The N-task drains with `k` workers, or (`scale`) the scaling pair's drains. */
const drains = (
  rs: readonly RepRecord[],
  k: number,
  scale = false,
): Array<DrainRecord & { rep: number }> =>
  rs.filter(
    (r): r is DrainRecord & { rep: number } =>
      r.kind === 'drain' && r.workers === k && (r.scale ?? false) === scale,
  );
const steady = (rs: readonly RepRecord[]): Array<SteadyRecord & { rep: number }> =>
  rs.filter((r): r is SteadyRecord & { rep: number } => r.kind === 'steady');

/** The rows, in order. */
export const METRICS: readonly Metric[] = [
  {
    key: 'enqueue.one',
    label: 'enqueue, one by one (tasks/s)',
    direction: 'higher',
    compare: true,
    digits: 0,
    values: enq('one'),
  },
  {
    key: 'enqueue.concurrent',
    label: 'enqueue, 1000 in flight (tasks/s)',
    direction: 'higher',
    compare: true,
    digits: 0,
    values: enq('concurrent'),
  },
  {
    key: 'enqueue.batch',
    label: 'enqueue, batch API (tasks/s)',
    direction: 'higher',
    compare: true,
    digits: 0,
    values: enq('batch'),
  },
  {
    key: 'drain.1',
    label: 'drain, 1 worker (tasks/s)',
    direction: 'higher',
    compare: true,
    digits: 0,
    values: (rs) => drains(rs, 1).map((r) => r.rate),
  },
  {
    key: 'drain.1.middle',
    label: 'drain, 1 worker, middle half (tasks/s)',
    direction: 'higher',
    compare: true,
    digits: 0,
    values: (rs) => drains(rs, 1).map((r) => r.rateMiddle),
  },
  {
    key: 'scale.1',
    label: 'long drain, 1 worker (tasks/s)',
    direction: 'higher',
    compare: true,
    digits: 0,
    values: (rs) => drains(rs, 1, true).map((r) => r.rate),
  },
  {
    key: 'scale.2',
    label: 'long drain, 2 workers (tasks/s)',
    direction: 'higher',
    compare: true,
    digits: 0,
    values: (rs) => drains(rs, 2, true).map((r) => r.rate),
  },
  {
    key: 'scale',
    label: '2 workers ÷ 1 worker, long drain',
    direction: 'higher',
    compare: false,
    digits: 2,
    values: (rs) =>
      drains(rs, 2, true).map(
        (two) => two.rate / (drains(rs, 1, true).find((one) => one.rep === two.rep)?.rate ?? NaN),
      ),
  },
  {
    key: 'e2e',
    label: 'end-to-end, producer + worker (tasks/s)',
    direction: 'higher',
    compare: true,
    digits: 0,
    values: (rs) => steady(rs).map((r) => r.e2e.rate),
  },
  {
    key: 'lat.p50',
    label: 'round trip one at a time, p50 (ms)',
    direction: 'lower',
    compare: true,
    values: (rs) => steady(rs).map((r) => r.latency.p50),
  },
  {
    key: 'lat.p90',
    label: 'round trip, p90 (ms)',
    direction: 'lower',
    compare: true,
    values: (rs) => steady(rs).map((r) => r.latency.p90),
  },
  {
    key: 'lat.p99',
    label: 'round trip, p99 (ms)',
    direction: 'lower',
    compare: true,
    values: (rs) => steady(rs).map((r) => r.latency.p99),
  },
  {
    key: 'ready',
    label: 'worker start-up to first result (s)',
    direction: 'lower',
    compare: true,
    values: (rs) => steady(rs).map((r) => r.readySecs),
  },
  {
    key: 'rss.idle',
    label: 'worker RSS, idle (MB)',
    direction: 'lower',
    compare: true,
    digits: 1,
    values: (rs) => steady(rs).map((r) => r.idleRssMB),
  },
  {
    key: 'rss.peak',
    label: 'worker RSS, peak in drain (MB)',
    direction: 'lower',
    compare: true,
    digits: 1,
    values: (rs) => drains(rs, 1).map((r) => r.peakRssMB),
  },
  {
    key: 'cpu.worker',
    label: 'worker CPU per task, drain (µs)',
    direction: 'lower',
    compare: true,
    digits: 0,
    values: (rs) => drains(rs, 1).map((r) => r.workerCpuUs),
  },
  {
    key: 'cpu.worker.middle',
    label: 'worker CPU per task, drain middle half (µs)',
    direction: 'lower',
    compare: true,
    digits: 0,
    values: (rs) => drains(rs, 1).map((r) => r.workerCpuUsMiddle),
  },
  {
    key: 'cpu.redis',
    label: 'Redis CPU per task, drain (µs)',
    direction: 'lower',
    compare: true,
    digits: 0,
    values: (rs) => drains(rs, 1).map((r) => r.redisCpuUs),
  },
  {
    key: 'cpu.total',
    label: 'worker + Redis CPU per task, drain (µs)',
    direction: 'lower',
    compare: true,
    digits: 0,
    values: (rs) =>
      drains(rs, 1).map((r) => r.workerCpuUs + (Number.isFinite(r.redisCpuUs) ? r.redisCpuUs : 0)),
  },
  {
    key: 'rt.cpu.worker',
    label: 'worker CPU per round trip (µs)',
    direction: 'lower',
    compare: true,
    digits: 0,
    values: (rs) => steady(rs).map((r) => r.latencyCpuUs?.worker ?? NaN),
  },
  {
    key: 'rt.cpu.client',
    label: 'client CPU per round trip (µs)',
    direction: 'lower',
    compare: true,
    digits: 0,
    values: (rs) => steady(rs).map((r) => r.latencyCpuUs?.client ?? NaN),
  },
  {
    key: 'rt.cpu.redis',
    label: 'Redis CPU per round trip (µs)',
    direction: 'lower',
    compare: true,
    digits: 0,
    values: (rs) => steady(rs).map((r) => r.latencyCpuUs?.redis ?? NaN),
  },
  {
    key: 'redis.reads',
    label: 'Redis round trips per task',
    direction: 'lower',
    compare: true,
    digits: 2,
    values: (rs) => steady(rs).map((r) => r.redisPerTask?.reads ?? NaN),
  },
  {
    key: 'redis.cmds',
    label: 'Redis commands per task',
    direction: 'lower',
    compare: true,
    digits: 1,
    values: (rs) => steady(rs).map((r) => r.redisPerTask?.commands ?? NaN),
  },
  {
    key: 'noise',
    label: 'other load during drain (% CPU)',
    direction: 'lower',
    compare: false,
    digits: 0,
    values: (rs) => drains(rs, 1).map((r) => r.otherLoadPct),
  },
  {
    key: 'steal.drain',
    label: 'VM steal during drain (% CPU)',
    direction: 'lower',
    compare: false,
    digits: 0,
    values: (rs) => drains(rs, 1).map((r) => r.stealPct),
  },
  {
    key: 'steal.latency',
    label: 'VM steal during round trips (% CPU)',
    direction: 'lower',
    compare: false,
    digits: 0,
    values: (rs) => steady(rs).map((r) => r.latencyStealPct),
  },
];

/** The id of the system the others are compared with. */
export const REFERENCE = 'celeriac';

/** A rendered table: header and rows of cells. */
export interface Table {
  readonly head: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
}

/** Summaries per metric and system, and celeriac's advantage over each peer. */
export function buildTable(systems: readonly SystemResult[]): Table {
  const ran = systems.filter((s) => !s.notRunnable);
  const ref = ran.find((s) => s.id === REFERENCE);
  const peers = ran.filter((s) => s.id !== REFERENCE && !s.id.startsWith(`${REFERENCE}-`));
  const head = [
    'figure',
    ...ran.map((s) => s.label),
    ...(ref ? peers.map((p) => `vs ${p.label}`) : []),
  ];
  const rows: string[][] = [];
  for (const m of METRICS) {
    const sums = new Map<string, Summary>(ran.map((s) => [s.id, summarize(m.values(s.records))]));
    if ([...sums.values()].every((x) => x.n === 0)) continue;
    const cells = [m.label, ...ran.map((s) => fmtSummary(sums.get(s.id)!, m.digits))];
    if (ref) {
      const r = sums.get(ref.id)!;
      for (const p of peers)
        cells.push(
          m.compare ? fmtFactor(advantage(r.median, sums.get(p.id)!.median, m.direction)) : '',
        );
    }
    rows.push(cells);
  }
  return { head, rows };
}

/** The table as aligned plain text. */
export function renderText(t: Table): string {
  const all = [t.head, ...t.rows];
  const widths = t.head.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? '')].length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(t.head), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)].join(
    '\n',
  );
}

/** The table as markdown. */
export function renderMarkdown(t: Table): string {
  const line = (r: readonly string[]): string => `| ${r.join(' | ')} |`;
  const align = t.head.map((_, i) => (i === 0 ? '---' : '---:'));
  return [line(t.head), line(align), ...t.rows.map(line)].join('\n');
}
