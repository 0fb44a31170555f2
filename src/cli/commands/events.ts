/**
 * `celeriac events`: the live terminal monitor, or with `--dump` every event as a line, as
 * `celery events --dump` prints them. Works with Python and celeriac workers.
 */
import type { Command } from '@commander-js/extra-typings';
import type { Celery } from '../../app/celery.js';
import { EventDumper } from '../../events/dumper.js';
import { EventReceiver } from '../../events/receiver.js';
import type { GlobalOptions } from '../context.js';
import { CliExit } from '../output.js';
import { clientApp } from '../remote-output.js';

export function registerEvents(program: Command<[], GlobalOptions>): void {
  program
    .command('events')
    .description(
      'Event-stream utilities: a live monitor of tasks and workers, or a dump of events.',
    )
    .option('-d, --dump', 'print every event as a line (celery events --dump)')
    .option('-c, --camera <name>', 'take snapshots with a camera (not supported)')
    .action(async (opts, cmd) => {
      if (opts.camera) throw new CliExit('Cameras (-c) are not supported by celeriac events', 2);
      const app = await clientApp(cmd.optsWithGlobals());
      try {
        if (opts.dump) await dump(app);
        else {
          if (!process.stdin.isTTY || !process.stdout.isTTY) {
            throw new CliExit(
              'The monitor needs a terminal; use --dump to print events instead',
              2,
            );
          }
          const { runMonitor } = await import('../monitor/monitor.js');
          await runMonitor(app);
        }
      } finally {
        await app.close();
      }
    });
}

/** Prints events until SIGINT/SIGTERM (Celery's evdump). */
async function dump(app: Celery): Promise<void> {
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  out('-> evdump: starting capture...');
  const dumper = new EventDumper();
  const receiver = new EventReceiver({
    transport: await app.connection(),
    clock: app.lamport,
    exchange: app.conf.eventExchange,
    onEvent: (event) => out(dumper.format(event)),
    onError: (error) => process.stderr.write(`Cannot read an event: ${error.message}\n`),
  });
  await receiver.start();
  // Workers announce themselves at once (Celery's receiver broadcasts heartbeat on start).
  await app.control.heartbeat().catch(() => []);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await receiver.close();
}
