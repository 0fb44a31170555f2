/** `celeriac result <id>`: print a task's result (waits with --timeout). */
import type { Command } from '@commander-js/extra-typings';
import { RemoteTaskError, TimeoutError } from '../../errors.js';
import { appFromOptions, type GlobalOptions } from '../context.js';
import { CliExit, formatValue } from '../output.js';

export function registerResult(program: Command<[], GlobalOptions>): void {
  program
    .command('result')
    .description("Print a task's result.")
    .argument('<task_id>', 'the task id')
    .option('--traceback', 'print the traceback instead of the result')
    .option(
      '-t, --timeout <seconds>',
      'seconds to wait for the result (default: do not wait)',
      parseFloat,
    )
    .action(async (taskId, opts, cmd) => {
      const app = await appFromOptions(cmd.optsWithGlobals());
      try {
        const result = app.AsyncResult(taskId);
        if (opts.timeout === undefined && !(await result.ready())) {
          throw new CliExit(
            `Task ${taskId} is ${await result.state()} (no result yet; use --timeout to wait)`,
            1,
          );
        }
        try {
          const value = await result.get({ timeout: opts.timeout ?? 0.001 });
          process.stdout.write(
            `${opts.traceback ? formatValue((await result.traceback()) ?? 'None') : formatValue(value)}\n`,
          );
        } catch (error) {
          if (error instanceof TimeoutError)
            throw new CliExit(`Timed out after ${opts.timeout}s waiting for task ${taskId}`, 1);
          if (error instanceof RemoteTaskError) {
            process.stdout.write(
              opts.traceback
                ? `${error.remoteTraceback ?? `${error.excType}: ${error.message}`}\n`
                : `${error.excType}: ${error.message}\n`,
            );
            throw new CliExit('', 1);
          }
          throw error;
        }
      } finally {
        await app.close();
      }
    });
}
