/** `celeriac call <task>`: send a task by name and print its id. */
import type { Command } from '@commander-js/extra-typings';
import type { ApplyOptions } from '../../app/task-types.js';
import { appFromOptions, type GlobalOptions } from '../context.js';
import { CliExit, parseJsonOption } from '../output.js';

export function registerCall(program: Command<[], GlobalOptions>): void {
  program
    .command('call')
    .description('Call a task by name.')
    .argument('<name>', 'task name, e.g. tasks.add')
    .option('-a, --args <json>', 'positional arguments (JSON list)')
    .option('-k, --kwargs <json>', 'keyword arguments (JSON object)')
    .option('--eta <iso>', 'scheduled time (ISO 8601)')
    .option('--countdown <seconds>', 'seconds to wait before running', parseFloat)
    .option('--expires <seconds|iso>', 'expiry: seconds from now or an ISO 8601 date')
    .option('--serializer <name>', 'json or msgpack')
    .option('--queue <name>', 'queue to send to')
    .option('--exchange <name>', 'exchange to send to')
    .option('--routing-key <key>', 'routing key')
    .option('--priority <n>', 'priority 0-9', (v) => parseInt(v, 10))
    .action(async (name, opts, cmd) => {
      const app = await appFromOptions(cmd.optsWithGlobals());
      try {
        const args = parseJsonOption<unknown[]>('--args', opts.args, [], Array.isArray);
        const kwargs = parseJsonOption<Record<string, unknown>>(
          '--kwargs',
          opts.kwargs,
          {},
          (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
        );
        const options: ApplyOptions = {};
        if (opts.eta) options.eta = opts.eta;
        if (opts.countdown !== undefined) {
          if (Number.isNaN(opts.countdown))
            throw new CliExit('--countdown must be a number of seconds', 2);
          options.countdown = opts.countdown;
        }
        if (opts.expires)
          options.expires = /^\d+(\.\d+)?$/.test(opts.expires)
            ? Number(opts.expires)
            : opts.expires;
        if (opts.serializer) {
          if (opts.serializer !== 'json' && opts.serializer !== 'msgpack')
            throw new CliExit('--serializer must be json or msgpack', 2);
          options.serializer = opts.serializer;
        }
        if (opts.queue) options.queue = opts.queue;
        if (opts.exchange) options.exchange = opts.exchange;
        if (opts.routingKey) options.routingKey = opts.routingKey;
        if (opts.priority !== undefined) options.priority = opts.priority;
        const result = await app.sendTask(name, args, kwargs, options);
        process.stdout.write(`${result.id}\n`);
      } finally {
        await app.close();
      }
    });
}
