/** `celeriac worker`: start a worker, as `celery worker` does. */
import type { Command } from '@commander-js/extra-typings';
import { createWriteStream, unlinkSync, writeFileSync } from 'node:fs';
import { Logger, parseLogLevel } from '../../util/logger.js';
import { spawn } from 'node:child_process';
import type { Celery } from '../../app/celery.js';
import { POOL_KINDS, isPoolKind, type PoolKind } from '../../worker/pool/create.js';
import { StateDb } from '../../worker/statedb.js';
import { parseAutoscale } from '../../worker/autoscaler.js';
import { Worker } from '../../worker/worker.js';
import { LIVENESS_INTERVAL } from '../../worker/liveness.js';
import { appFromOptions, type GlobalOptions } from '../context.js';
import { CliExit } from '../output.js';

/** The exit status of a worker that stayed unhealthy longer than --max-unhealthy. */
export const UNHEALTHY_EXIT_CODE = 3;

export function registerWorker(program: Command<[], GlobalOptions>): void {
  program
    .command('worker')
    .description('Start a worker instance.')
    .option('-c, --concurrency <n>', 'number of task slots (default: number of CPUs)', (v) =>
      parseInt(v, 10),
    )
    .option('-Q, --queues <list>', 'comma-separated queues to consume')
    .option('-X, --exclude-queues <list>', 'comma-separated queues not to consume')
    .option('-n, --hostname <name>', 'node name (%h host, %n name, %d domain)', 'celery@%h')
    .option('-l, --loglevel <level>', 'DEBUG, INFO, WARNING, ERROR, CRITICAL', 'WARNING')
    .option(
      '-P, --pool <pool>',
      `pool: ${POOL_KINDS.join(', ')} (default: the workerPool setting, else event: async tasks on the event loop)`,
    )
    .option('--autoscale <max,min>', 'grow the pool up to max slots by demand, shrink back to min')
    .option('--max-tasks-per-child <n>', 'replace a pool child after this many tasks', (v) =>
      parseInt(v, 10),
    )
    .option('--max-memory-per-child <KiB>', 'replace a pool child above this memory (KiB)', (v) =>
      parseInt(v, 10),
    )
    .option('-E, --task-events', 'send task-related events')
    .option('-O <optimization>', 'Celery optimization profile (fair is the default behaviour here)')
    .option('--prefetch-multiplier <n>', 'messages reserved per slot', (v) => parseInt(v, 10))
    .option('--pidfile <path>', 'write the process id to this file')
    .option('-S, --statedb <path>', 'keep revoked task ids in this file across restarts')
    .option('-f, --logfile <path>', 'write logs to this file instead of stderr')
    .option(
      '--shutdown-timeout <seconds>',
      'seconds a warm shutdown waits for running tasks',
      parseFloat,
      30,
    )
    .option(
      '--liveness-file <path>',
      'refresh this file (its mtime) while the worker is healthy: running, connected and ' +
        'consuming; a liveness probe fails once it is older than a bound, e.g. ' +
        '`celeriac liveness <path> --max-age 30`',
    )
    .option(
      '--liveness-interval <seconds>',
      `seconds between liveness checks and file refreshes (default ${LIVENESS_INTERVAL})`,
      parseFloat,
    )
    .option(
      '--max-unhealthy <seconds>',
      `exit with status ${UNHEALTHY_EXIT_CODE} once unhealthy (broker unreachable, consumer stuck) ` +
        'for longer than this, for a supervisor to restart it (default: keep trying)',
      parseFloat,
    )
    .action(async (opts, cmd) => {
      let level;
      try {
        level = parseLogLevel(opts.loglevel);
      } catch (error) {
        throw new CliExit((error as Error).message, 2);
      }
      if (opts.pool !== undefined && !isPoolKind(opts.pool))
        throw new CliExit(`-P/--pool must be one of ${POOL_KINDS.join(', ')}`, 2);
      if (opts.concurrency !== undefined && !(opts.concurrency >= 1))
        throw new CliExit('-c/--concurrency must be a whole number >= 1', 2);
      let autoscale: { max: number; min: number } | undefined;
      try {
        autoscale = opts.autoscale ? parseAutoscale(opts.autoscale) : undefined;
      } catch (error) {
        throw new CliExit((error as Error).message, 2);
      }
      for (const [flag, value] of [
        ['--liveness-interval', opts.livenessInterval],
        ['--max-unhealthy', opts.maxUnhealthy],
      ] as const) {
        if (value !== undefined && !(value > 0))
          throw new CliExit(`${flag} must be a number of seconds > 0`, 2);
      }
      const app = await appFromOptions(cmd.optsWithGlobals());
      if (opts.prefetchMultiplier !== undefined)
        app.configure({ workerPrefetchMultiplier: opts.prefetchMultiplier });
      // Flags win over the app's worker settings, as in Celery.
      const conf = app.conf;
      const pool: PoolKind = opts.pool ?? conf.workerPool;
      const maxTasksPerChild = opts.maxTasksPerChild ?? conf.workerMaxTasksPerChild ?? undefined;
      const maxMemoryPerChild = opts.maxMemoryPerChild ?? conf.workerMaxMemoryPerChild ?? undefined;
      const statedbPath = opts.statedb ?? conf.workerStateDb ?? undefined;
      const sink = opts.logfile ? createWriteStream(opts.logfile, { flags: 'a' }) : process.stderr;
      const logger = new Logger({ level, sink });
      const split = (s: string | undefined): string[] =>
        (s ?? '')
          .split(',')
          .map((q) => q.trim())
          .filter(Boolean);
      const worker = new Worker(app, {
        hostname: opts.hostname,
        concurrency: pool === 'solo' ? 1 : opts.concurrency,
        autoscale,
        pool,
        appSpec: cmd.optsWithGlobals().app,
        maxTasksPerChild,
        maxMemoryPerChild,
        queues: split(opts.queues),
        excludeQueues: split(opts.excludeQueues),
        logger,
        bannerStream: process.stdout,
        shutdownTimeout: opts.shutdownTimeout,
        taskEvents: opts.taskEvents === true ? true : undefined,
        // A remote `shutdown` (celery control shutdown) takes the same way as SIGTERM.
        onShutdownRequest: () => {
          if (!stopping) shutdown('warm');
        },
        liveness: {
          file: opts.livenessFile,
          interval: opts.livenessInterval,
          maxUnhealthy: opts.maxUnhealthy,
          onExpired: () => {
            if (stopping) return;
            logger.critical(
              `Exiting with status ${UNHEALTHY_EXIT_CODE} (--max-unhealthy ${opts.maxUnhealthy}).`,
            );
            exitCode = UNHEALTHY_EXIT_CODE;
            // The broker may be away: do not wait for it longer than a few seconds.
            setTimeout(() => process.exit(UNHEALTHY_EXIT_CODE), 5000).unref();
            shutdown('cold');
          },
        },
      });
      warnUnenforceableLimits(app, pool, logger);
      if (opts.pidfile) writeFileSync(opts.pidfile, `${process.pid}\n`);
      const statedb = statedbPath ? new StateDb(statedbPath, worker.state.revoked) : undefined;
      if (statedb) {
        const count = statedb.load();
        logger.info(`Loaded ${count} revoked task id${count === 1 ? '' : 's'} from ${statedbPath}`);
        statedb.start();
      }
      let stopping: Promise<void> | undefined;
      let exitCode = 0;
      const shutdown = (mode: 'warm' | 'cold' | 'restart'): void => {
        if (stopping && mode === 'warm') mode = 'cold';
        process.stderr.write(
          mode === 'restart'
            ? `\nworker: Restarting worker with fresh code (MainProcess)\n`
            : `\nworker: ${mode === 'cold' ? 'Cold' : 'Warm'} shutdown (MainProcess)\n`,
        );
        // A stop that cannot finish (the broker is unreachable, a close that never settles)
        // must not leave the process hanging: a second Ctrl+C or SIGQUIT exits soon whatever
        // happens, and a warm stop gets its budget plus time to hand messages back.
        const bound = mode === 'cold' ? COLD_SHUTDOWN_BOUND_S : opts.shutdownTimeout + HAND_BACK_S;
        setTimeout(() => {
          logger.error(
            `Shutdown did not finish within ${bound} s (is the broker reachable?); exiting now. ` +
              'Unfinished late-ack messages come back after the broker lease or visibility timeout.',
          );
          process.exit(1);
        }, bound * 1000).unref();
        stopping = worker
          .stop({ cold: mode === 'cold' })
          .then(() => app.close())
          .then(() => {
            statedb?.close();
            if (mode === 'restart') {
              restartInPlace();
              return;
            }
            if (opts.pidfile) safeUnlink(opts.pidfile);
            process.exit(exitCode);
          });
      };
      process.on('SIGTERM', () => shutdown('warm'));
      process.on('SIGINT', () => shutdown(stopping ? 'cold' : 'warm'));
      process.on('SIGQUIT', () => shutdown('cold'));
      process.on('SIGHUP', () => {
        if (!stopping) shutdown('restart');
      });
      await worker.start();
    });
}

/** Seconds a cold shutdown may take before the process exits regardless. */
const COLD_SHUTDOWN_BOUND_S = 5;
/** Seconds a warm shutdown may take beyond --shutdown-timeout (hand-back, closing connections). */
const HAND_BACK_S = 15;

/**
 * SIGHUP: after the warm stop, start a new worker process with the same arguments (so task
 * code is loaded fresh) and leave. Queued tasks stay in the broker; unfinished late-ack
 * messages were handed back by the warm stop. Unlike Celery's execv the pid changes; the new
 * process rewrites --pidfile.
 */
function restartInPlace(): void {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    detached: true,
    env: process.env,
  });
  child.unref();
  process.exit(0);
}

/**
 * In-process pools cannot interrupt a task that blocks the event loop, so hard time limits
 * there only work for tasks that yield. Say so at start-up rather than silently.
 */
function warnUnenforceableLimits(app: Celery, pool: PoolKind, logger: Logger): void {
  if (pool !== 'event' && pool !== 'solo') return;
  const limited = [...app.tasks.values()]
    .filter((t) => t.local && (t.options.timeLimit ?? app.conf.taskTimeLimit) !== null)
    .map((t) => `${t.name} (${t.options.timeLimit ?? app.conf.taskTimeLimit}s)`);
  if (limited.length === 0) return;
  logger.warning(
    `Hard time limits of ${limited.join(', ')} cannot stop a task that blocks the event loop in the ${pool} pool: ` +
      'async tasks are stopped at the limit, synchronous ones run on. Use -P prefork to enforce them.',
  );
}

function safeUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}
