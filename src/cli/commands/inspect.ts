/** `celeriac inspect <command>`: read-only remote control, as `celery inspect` does. */
import type { Command } from '@commander-js/extra-typings';
import {
  COMMANDS,
  CommandArgumentError,
  compileArguments,
  findCommand,
} from '../../control/commands.js';
import { pyDumps } from '../../serialization/json.js';
import type { GlobalOptions } from '../context.js';
import { CliExit } from '../output.js';
import {
  clientApp,
  destinationList,
  noReplies,
  nodesOnline,
  sayReply,
  timeoutSeconds,
} from '../remote-output.js';

const INSPECT = COMMANDS.filter((c) => c.type === 'inspect');

export function registerInspect(program: Command<[], GlobalOptions>): void {
  program
    .command('inspect')
    .description(
      'Inspect the workers at runtime (Python Celery and celeriac workers alike).\n\nCommands:\n' +
        INSPECT.map((c) => `  ${c.name.padEnd(14)} ${c.help}`).join('\n'),
    )
    .argument('<command>', INSPECT.map((c) => c.name).join(', '))
    .argument('[args...]', "the command's arguments, e.g. `query_task <id>...`")
    .option('-t, --timeout <seconds>', 'timeout in seconds waiting for reply', '1.0')
    .option('-d, --destination <nodes>', 'comma separated list of destination node names')
    .option('-j, --json', 'use json as output format')
    .action(async (name, args, opts, cmd) => {
      const info = findCommand(name, 'inspect');
      if (!info) {
        throw new CliExit(
          `Invalid value for 'ACTION': '${name}' is not one of ${INSPECT.map((c) => `'${c.name}'`).join(', ')}.`,
          2,
        );
      }
      let args_: Record<string, unknown>;
      try {
        args_ = compileArguments(info, args);
      } catch (error) {
        if (error instanceof CommandArgumentError) throw new CliExit(error.message, 2);
        throw error;
      }
      const timeout = timeoutSeconds(opts.timeout);
      const app = await clientApp(cmd.optsWithGlobals());
      try {
        const write = (text: string): void => void process.stdout.write(text);
        const byNode = await app.control
          .inspect({
            timeout,
            destination: destinationList(opts.destination),
            callback: opts.json ? undefined : (reply) => sayReply(write, reply, true),
          })
          .request(info.name, args_);
        const count = Object.keys(byNode).length;
        if (count === 0) throw noReplies();
        if (opts.json) write(`${pyDumps(byNode)}\n`);
        else write(nodesOnline(count));
      } finally {
        await app.close();
      }
    });
}
