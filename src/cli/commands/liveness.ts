/**
 * `celeriac liveness <file>`: the exec probe for `celeriac worker --liveness-file <file>`.
 * Exits 0 when the file was refreshed within --max-age seconds (the worker is running,
 * connected and consuming), 1 when it is older or missing. Needs no app and no broker.
 */
import type { Command } from '@commander-js/extra-typings';
import { statSync } from 'node:fs';
import type { GlobalOptions } from '../context.js';
import { CliExit } from '../output.js';

/** Default --max-age: six missed refreshes at the default 5 s interval. */
const DEFAULT_MAX_AGE = 30;

export function registerLiveness(program: Command<[], GlobalOptions>): void {
  program
    .command('liveness')
    .description(
      'Check a worker started with --liveness-file: exit 0 while it is healthy, 1 when not.',
    )
    .argument('<file>', 'the file given to celeriac worker --liveness-file')
    .option(
      '--max-age <seconds>',
      `how old the file may be (default ${DEFAULT_MAX_AGE}; keep it above the worker's --liveness-interval)`,
      parseFloat,
      DEFAULT_MAX_AGE,
    )
    .action((file, opts) => {
      if (!(opts.maxAge > 0)) throw new CliExit('--max-age must be a number of seconds > 0', 2);
      let mtimeMs: number;
      try {
        mtimeMs = statSync(file).mtimeMs;
      } catch {
        throw new CliExit(
          `${file} does not exist: no worker is running with --liveness-file ${file}, or it has stopped`,
          1,
        );
      }
      const age = (Date.now() - mtimeMs) / 1000;
      if (age >= opts.maxAge) {
        throw new CliExit(
          `${file} was last refreshed ${age.toFixed(1)} s ago (more than ${opts.maxAge} s): the worker is unhealthy or stalled; see its log`,
          1,
        );
      }
      process.stdout.write(`ok: ${file} refreshed ${age.toFixed(1)} s ago\n`);
    });
}
