/** `celeriac purge`: remove all waiting messages from the app's queues. */
import type { Command } from '@commander-js/extra-typings';
import { createInterface } from 'node:readline/promises';
import { appFromOptions, type GlobalOptions } from '../context.js';
import { CliExit } from '../output.js';

export function registerPurge(program: Command<[], GlobalOptions>): void {
  program
    .command('purge')
    .description('Erase all messages from the task queues. There is no undo.')
    .option('-f, --force', "don't prompt for verification")
    .option('-Q, --queues <list>', 'comma-separated queues to purge (default: the default queue)')
    .option('-X, --exclude-queues <list>', 'comma-separated queues not to purge')
    .action(async (opts, cmd) => {
      const app = await appFromOptions(cmd.optsWithGlobals());
      try {
        const exclude = new Set(split(opts.excludeQueues));
        const queues = (opts.queues ? split(opts.queues) : [app.conf.taskDefaultQueue]).filter(
          (q) => !exclude.has(q),
        );
        if (!opts.force) {
          if (!process.stdin.isTTY) {
            throw new CliExit(
              'Refusing to purge without confirmation: pass -f to purge non-interactively',
              2,
            );
          }
          const rl = createInterface({ input: process.stdin, output: process.stdout });
          const answer = await rl.question(
            `WARNING: This will remove all tasks from queue${queues.length > 1 ? 's' : ''}: ${queues.join(', ')}.\n` +
              '         There is no undo for this operation!\n\n(to skip this prompt use the -f option)\n\n' +
              'Are you sure you want to delete all tasks (yes/NO)? ',
          );
          rl.close();
          if (answer.trim().toLowerCase() !== 'yes')
            throw new CliExit('Aborted: nothing was purged', 1);
        }
        const transport = await app.connection();
        let total = 0;
        for (const queue of queues) total += await transport.purge(queue);
        const noun = queues.length === 1 ? 'queue' : 'queues';
        process.stdout.write(
          total
            ? `Purged ${total} message${total === 1 ? '' : 's'} from ${queues.length} known task ${noun}.\n`
            : `No messages purged from ${queues.length} ${noun}.\n`,
        );
      } finally {
        await app.close();
      }
    });
}

function split(list: string | undefined): string[] {
  return (list ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
