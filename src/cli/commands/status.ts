/** `celeriac status`: the workers online, as `celery status` lists them. */
import type { Command } from '@commander-js/extra-typings';
import { pyDumps } from '../../serialization/json.js';
import type { GlobalOptions } from '../context.js';
import {
  clientApp,
  destinationList,
  noReplies,
  nodesOnline,
  sayReply,
  timeoutSeconds,
} from '../remote-output.js';

export function registerStatus(program: Command<[], GlobalOptions>): void {
  program
    .command('status')
    .description('Show list of workers that are online.')
    .option('-t, --timeout <seconds>', 'timeout in seconds waiting for reply', '1.0')
    .option('-d, --destination <nodes>', 'comma separated list of destination node names')
    .option('-j, --json', 'use json as output format')
    .action(async (opts, cmd) => {
      const app = await clientApp(cmd.optsWithGlobals());
      try {
        const write = (text: string): void => void process.stdout.write(text);
        const byNode = await app.control
          .inspect({
            timeout: timeoutSeconds(opts.timeout),
            destination: destinationList(opts.destination),
            callback: opts.json ? undefined : (reply) => sayReply(write, reply, false),
          })
          .ping();
        const count = Object.keys(byNode).length;
        if (count === 0) throw noReplies();
        if (opts.json) write(`${pyDumps(byNode)}\n`);
        write(nodesOnline(count));
      } finally {
        await app.close();
      }
    });
}
