/** `celeriac control <command>`: steer the workers, as `celery control` does. */
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
  sayReply,
  timeoutSeconds,
} from '../remote-output.js';

const CONTROL = COMMANDS.filter((c) => c.type === 'control');

export function registerControl(program: Command<[], GlobalOptions>): void {
  program
    .command('control')
    .description(
      'Workers remote control (Python Celery and celeriac workers alike).\n\nCommands:\n' +
        CONTROL.map(
          (c) => `  ${c.name.padEnd(16)} ${c.signature ? `${c.signature}  ` : ''}${c.help}`,
        ).join('\n'),
    )
    .argument('<command>', CONTROL.map((c) => c.name).join(', '))
    .argument('[args...]', "the command's arguments, e.g. `rate_limit tasks.add 10/m`")
    .option('-t, --timeout <seconds>', 'timeout in seconds waiting for reply', '1.0')
    .option('-d, --destination <nodes>', 'comma separated list of destination node names')
    .option('-j, --json', 'use json as output format')
    .option('--terminate', 'revoke: also stop the task if it is running (as app.control.revoke)')
    .option('-s, --signal <name>', 'revoke --terminate: the signal (default SIGTERM)')
    .action(async (name, args, opts, cmd) => {
      const info = findCommand(name, 'control');
      if (!info) {
        throw new CliExit(
          `Invalid value for 'ACTION': '${name}' is not one of ${CONTROL.map((c) => `'${c.name}'`).join(', ')}.`,
          2,
        );
      }
      let compiled: Record<string, unknown>;
      try {
        compiled = compileArguments(info, args);
      } catch (error) {
        if (error instanceof CommandArgumentError) throw new CliExit(error.message, 2);
        throw error;
      }
      if (opts.terminate || opts.signal !== undefined) {
        if (info.name !== 'revoke') {
          throw new CliExit(
            `--terminate and --signal go with 'revoke' only (for a running task: control revoke <id> --terminate [--signal SIGKILL])`,
            2,
          );
        }
        if (opts.signal !== undefined && !opts.terminate)
          throw new CliExit(
            `--signal needs --terminate: control revoke <id> --terminate --signal ${opts.signal}`,
            2,
          );
        compiled = { ...compiled, terminate: true, signal: opts.signal ?? 'SIGTERM' };
      }
      const app = await clientApp(cmd.optsWithGlobals());
      try {
        const write = (text: string): void => void process.stdout.write(text);
        const replies = await app.control.broadcast(info.name, {
          arguments: compiled,
          timeout: timeoutSeconds(opts.timeout),
          destination: destinationList(opts.destination),
          reply: true,
          callback: opts.json ? undefined : (reply) => sayReply(write, reply, true),
        });
        if (replies.length === 0) throw noReplies();
        if (opts.json) write(`${pyDumps(replies)}\n`);
      } finally {
        await app.close();
      }
    });
}
