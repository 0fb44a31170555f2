/** Command-line options of `npm run bench`. */
import { parseArgs } from 'node:util';
import type { ScenarioOptions } from './scenarios.js';

/** Which groups of measurements to run. */
export type ScenarioName = 'enqueue' | 'drain' | 'scale' | 'steady' | 'ceiling';
const SCENARIOS: readonly ScenarioName[] = ['enqueue', 'drain', 'scale', 'steady', 'ceiling'];

/** Everything the run needs to know. */
export interface BenchOptions extends ScenarioOptions {
  readonly quick: boolean;
  readonly reps: number;
  /** System ids to run, in order. */
  readonly systems: readonly string[];
  readonly scenarios: ReadonlySet<ScenarioName>;
  /** Worker processes in the "scale" drain. */
  readonly scaleWorkers: number;
  /** Per-system worker concurrency overrides. */
  readonly concurrency: ReadonlyMap<string, number>;
  /** redis-benchmark requests per test. */
  readonly ceilingRequests: number;
  /** Before each measurement, wait (at most quietMaxMs) until the machine is at most quietPct % busy. */
  readonly quietPct: number;
  readonly quietMaxMs: number;
  readonly markdown: boolean;
  /** JSON result file; default bench/results/bench-<time>.json. */
  readonly out: string | undefined;
  readonly verbose: boolean;
}

export const USAGE = `npm run bench -- [options]

  --quick               a few minutes: N=5000, 300 latency calls, 2 repeats
  --reps R              repeats of every measurement (default 3; quick 2)
  --n N                 tasks per enqueue / drain / end-to-end run (default 20000)
  --scale-n N           tasks per drain of the 1-vs-2-worker pair (default 3 × n)
  --lat-n N             timed sequential round trips (default 2000; quick 300)
  --lat-warmup N        untimed round trips just before them, so that every system's JIT has
                        settled (default 3000; quick 300)
  --systems a,b         systems to run (default: celeriac,celeriac-sqlite,bullmq,bee-queue,celery-node,celery-py)
  --scenarios a,b       enqueue,drain,scale,steady,ceiling (default: all)
  --concurrency id=N    worker concurrency of a system, repeatable (defaults: see bench/README.md)
  --markdown            print the table as markdown
  --out FILE            JSON results (default bench/results/bench-<time>.json)
  --quiet-pct P         wait before each measurement until the machine is ≤ P % busy (default 30, quick 0 = never)
  --quiet-max-s S       ... but at most S seconds (default 2)
  --window W            sends in flight in "1000 in flight" mode (default 1000)
  --batch B             tasks per batch call (default 1000)
  --timeout-s S         give up a wait after S seconds (default 300)
  --verbose             log every measurement to stderr
`;

/** The default systems, in table order (celeriac first: it is what the others are compared with). */
export const ALL_SYSTEMS = [
  'celeriac',
  'celeriac-sqlite',
  'bullmq',
  'bee-queue',
  'celery-node',
  'celery-py',
] as const;

function positive(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} ${v}: expected a number ≥ 0`);
  return n;
}

function list(v: string | undefined): string[] | undefined {
  return v
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Parses argv (without node and the script); throws with a usage hint on a bad option. */
export function parseOptions(argv: readonly string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      quick: { type: 'boolean' },
      reps: { type: 'string' },
      n: { type: 'string' },
      'scale-n': { type: 'string' },
      'lat-n': { type: 'string' },
      'lat-warmup': { type: 'string' },
      systems: { type: 'string' },
      scenarios: { type: 'string' },
      concurrency: { type: 'string', multiple: true },
      markdown: { type: 'boolean' },
      out: { type: 'string' },
      'quiet-pct': { type: 'string' },
      'quiet-max-s': { type: 'string' },
      window: { type: 'string' },
      batch: { type: 'string' },
      'timeout-s': { type: 'string' },
      verbose: { type: 'boolean' },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  const systems = list(values.systems) ?? [...ALL_SYSTEMS];
  for (const s of systems) {
    if (!(ALL_SYSTEMS as readonly string[]).includes(s))
      throw new Error(`--systems: unknown system "${s}" (have: ${ALL_SYSTEMS.join(', ')})`);
  }
  const scenarioList = list(values.scenarios) ?? [...SCENARIOS];
  for (const s of scenarioList) {
    if (!(SCENARIOS as readonly string[]).includes(s))
      throw new Error(`--scenarios: unknown scenario "${s}" (have: ${SCENARIOS.join(', ')})`);
  }
  const concurrency = new Map<string, number>();
  for (const c of values.concurrency ?? []) {
    const m = /^([a-z-]+)=(\d+)$/.exec(c);
    if (!m)
      throw new Error(`--concurrency ${c}: expected system=N, e.g. --concurrency celeriac=50`);
    concurrency.set(m[1]!, Number(m[2]));
  }
  const n = positive('n', values.n, quick ? 5000 : 20_000);
  if (n < 1) throw new Error('--n must be at least 1');
  return {
    quick,
    reps: Math.max(1, Math.floor(positive('reps', values.reps, quick ? 2 : 3))),
    n,
    scaleN: Math.max(1, positive('scale-n', values['scale-n'], 3 * n)),
    latN: Math.max(1, positive('lat-n', values['lat-n'], quick ? 300 : 2000)),
    idleWarmup: quick ? 20 : 50,
    latWarmup: positive('lat-warmup', values['lat-warmup'], quick ? 300 : 3000),
    systems,
    scenarios: new Set(scenarioList as ScenarioName[]),
    scaleWorkers: 2,
    concurrency,
    ceilingRequests: quick ? 30_000 : 100_000,
    quietPct: positive('quiet-pct', values['quiet-pct'], quick ? 0 : 30),
    quietMaxMs: positive('quiet-max-s', values['quiet-max-s'], 2) * 1000,
    markdown: values.markdown ?? false,
    out: values.out,
    verbose: values.verbose ?? false,
    window: Math.max(1, positive('window', values.window, 1000)),
    batch: Math.max(1, positive('batch', values.batch, 1000)),
    pollMs: 20,
    timeoutMs: positive('timeout-s', values['timeout-s'], 300) * 1000,
  };
}
