/** The `celeriac` command line: Celery's commands and flags. */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { VERSION } from '../worker/worker.js';
import { registerCall } from './commands/call.js';
import { registerControl } from './commands/control.js';
import { registerEvents } from './commands/events.js';
import { registerInspect } from './commands/inspect.js';
import { registerLiveness } from './commands/liveness.js';
import { registerPurge } from './commands/purge.js';
import { registerResult } from './commands/result.js';
import { registerStatus } from './commands/status.js';
import { registerWorker } from './commands/worker.js';
import { CliExit, reasonOf } from './output.js';

/** Builds the program (exported for tests). */
export function buildProgram(): Command<
  [],
  { app?: string; broker?: string; resultBackend?: string; color?: boolean }
> {
  const program = new Command()
    .name('celeriac')
    .description('Celery for TypeScript: run workers and manage tasks.')
    .version(VERSION, '--version')
    .option(
      '-A, --app <module>',
      'the module that exports the app, e.g. tasks.ts or src/tasks.ts:app',
    )
    .option('-b, --broker <url>', 'broker URL (overrides the app and CELERY_BROKER_URL)')
    .option(
      '--result-backend <url>',
      'result backend URL (overrides the app and CELERY_RESULT_BACKEND)',
    )
    // Read from argv by colors.ts before any output; declared here for --help and parsing.
    .option('--color', 'colour the output even when it is not a terminal')
    .option('--no-color', 'never colour the output')
    .showHelpAfterError()
    .exitOverride();
  registerWorker(program);
  registerCall(program);
  registerResult(program);
  registerPurge(program);
  registerInspect(program);
  registerControl(program);
  registerStatus(program);
  registerEvents(program);
  registerLiveness(program);
  return program;
}

/** Runs the CLI and exits with Celery-like codes: 0 success, 1 failure, 2 usage error. */
export async function main(argv = process.argv): Promise<void> {
  // `celeriac inspect ... | head`: the reader went away; stop quietly, as a shell tool does.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    const code = error instanceof CliExit ? error.exitCode : 1;
    const reason = reasonOf(error);
    if (reason) process.stderr.write(`Error: ${reason}\n`);
    process.exit(code);
  }
}

await main();
