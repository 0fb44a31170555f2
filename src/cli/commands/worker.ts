/** `celeriac worker`: start a worker, as `celery worker` does. */
import type { Command } from '@commander-js/extra-typings';
import { createWriteStream, unlinkSync, writeFileSync } from 'node:fs';
import { Logger, parseLogLevel } from '../../util/logger.js';
import { POOL_KINDS, isPoolKind } from '../../worker/pool/create.js';
import { Worker } from '../../worker/worker.js';
import { appFromOptions, type GlobalOptions } from '../context.js';
import { CliExit } from '../output.js';

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
      `pool: ${POOL_KINDS.join(', ')} (default event: async tasks on the event loop)`,
      'event',
    )
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
    .option('-f, --logfile <path>', 'write logs to this file instead of stderr')
    .option(
      '--shutdown-timeout <seconds>',
      'seconds a warm shutdown waits for running tasks',
      parseFloat,
      30,
    )
    .action(async (opts, cmd) => {
      let level;
      try {
        level = parseLogLevel(opts.loglevel);
      } catch (error) {
        throw new CliExit((error as Error).message, 2);
      }
      const pool = opts.pool;
      if (!isPoolKind(pool))
        throw new CliExit(`-P/--pool must be one of ${POOL_KINDS.join(', ')}`, 2);
      if (opts.concurrency !== undefined && !(opts.concurrency >= 1))
        throw new CliExit('-c/--concurrency must be a whole number >= 1', 2);
      const app = await appFromOptions(cmd.optsWithGlobals());
      if (opts.prefetchMultiplier !== undefined)
        app.configure({ workerPrefetchMultiplier: opts.prefetchMultiplier });
      const sink = opts.logfile ? createWriteStream(opts.logfile, { flags: 'a' }) : process.stderr;
      const logger = new Logger({ level, sink });
      if (opts.pool !== 'event' && opts.pool !== 'solo') {
        logger.warning(
          `Pool '${opts.pool}' is not available yet; running tasks on the event loop pool`,
        );
      }
      if (opts.taskEvents)
        logger.warning('Task events (-E) are not available yet; continuing without them');
      const split = (s: string | undefined): string[] =>
        (s ?? '')
          .split(',')
          .map((q) => q.trim())
          .filter(Boolean);
      const worker = new Worker(app, {
        hostname: opts.hostname,
        concurrency: pool === 'solo' ? 1 : opts.concurrency,
        pool,
        appSpec: cmd.optsWithGlobals().app,
        maxTasksPerChild: opts.maxTasksPerChild,
        maxMemoryPerChild: opts.maxMemoryPerChild,
        queues: split(opts.queues),
        excludeQueues: split(opts.excludeQueues),
        logger,
        bannerStream: process.stdout,
        shutdownTimeout: opts.shutdownTimeout,
      });
      if (opts.pidfile) writeFileSync(opts.pidfile, `${process.pid}\n`);
      let stopping: Promise<void> | undefined;
      const shutdown = (cold: boolean): void => {
        if (stopping && !cold) cold = true;
        process.stderr.write(`\nworker: ${cold ? 'Cold' : 'Warm'} shutdown (MainProcess)\n`);
        stopping = worker
          .stop({ cold })
          .then(() => app.close())
          .then(() => {
            if (opts.pidfile) safeUnlink(opts.pidfile);
            process.exit(0);
          });
      };
      process.on('SIGTERM', () => shutdown(false));
      process.on('SIGINT', () => shutdown(stopping !== undefined));
      process.on('SIGQUIT', () => shutdown(true));
      await worker.start();
    });
}

function safeUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}
