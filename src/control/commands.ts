/**
 * Celery's remote control command table (`celery.worker.control.Panel.meta`): which commands
 * are inspect or control commands, their positional arguments and types, the variadic one.
 * The CLI turns `celeriac control rate_limit tasks.add 10/m` into `{task_name, rate_limit}`
 * with it, exactly as `celery control` does, so both CLIs steer both kinds of workers.
 */

/** Argument converters (Celery's: str, int, float, strtobool). */
export type ArgType = 'str' | 'int' | 'float' | 'bool';

/** One command. */
export interface CommandInfo {
  name: string;
  type: 'inspect' | 'control';
  help: string;
  /** Positional arguments, in order. */
  args: ReadonlyArray<readonly [name: string, type: ArgType]>;
  /** Name of the argument that takes the remaining positionals as a list. */
  variadic?: string | undefined;
  /** Usage text of the arguments. */
  signature?: string | undefined;
}

const c = (
  name: string,
  type: CommandInfo['type'],
  help: string,
  extra: Partial<Omit<CommandInfo, 'name' | 'type' | 'help'>> = {},
): CommandInfo => ({ name, type, help, args: [], ...extra });

/** Every visible command of Celery 5.2.6, in Celery's order. */
export const COMMANDS: readonly CommandInfo[] = [
  c('report', 'inspect', 'Information about Celery installation for bug reports.'),
  c('conf', 'inspect', 'List configuration.', {
    args: [['with_defaults', 'bool']],
    signature: '[include_defaults=False]',
  }),
  c('query_task', 'inspect', 'Query for task information by id.', {
    variadic: 'ids',
    signature: '[id1 [id2 [... [idN]]]]',
  }),
  c('revoke', 'control', 'Revoke task by task id (or list of ids).', {
    variadic: 'task_id',
    signature: '[id1 [id2 [... [idN]]]]',
  }),
  c('terminate', 'control', 'Terminate task by task id (or list of ids).', {
    args: [['signal', 'str']],
    variadic: 'task_id',
    signature: '<signal> [id1 [id2 [... [idN]]]]',
  }),
  c('rate_limit', 'control', 'Tell worker(s) to modify the rate limit for a task by type.', {
    args: [
      ['task_name', 'str'],
      ['rate_limit', 'str'],
    ],
    signature: '<task_name> <rate_limit (e.g., 5/s | 5/m | 5/h)>',
  }),
  c('time_limit', 'control', 'Tell worker(s) to modify the time limit for task by type.', {
    args: [
      ['task_name', 'str'],
      ['soft', 'float'],
      ['hard', 'float'],
    ],
    signature: '<task_name> <soft_secs> [hard_secs]',
  }),
  c('clock', 'inspect', 'Get current logical clock value.'),
  c('election', 'control', 'Hold election.'),
  c('enable_events', 'control', 'Tell worker(s) to send task-related events.'),
  c('disable_events', 'control', 'Tell worker(s) to stop sending task-related events.'),
  c('heartbeat', 'control', 'Tell worker(s) to send event heartbeat immediately.'),
  c('ping', 'inspect', 'Ping worker(s).'),
  c('stats', 'inspect', 'Request worker statistics/information.'),
  c('scheduled', 'inspect', 'List of currently scheduled ETA/countdown tasks.'),
  c('reserved', 'inspect', 'List of currently reserved tasks, not including scheduled/active.'),
  c('active', 'inspect', 'List of tasks currently being executed.'),
  c('revoked', 'inspect', 'List of revoked task-ids.'),
  c('registered', 'inspect', 'List of registered tasks.', {
    variadic: 'taskinfoitems',
    signature: '[attr1 [attr2 [... [attrN]]]]',
  }),
  c('objgraph', 'inspect', 'Create graph of uncollected objects (memory-leak debugging).', {
    args: [
      ['type', 'str'],
      ['num', 'int'],
      ['max_depth', 'int'],
    ],
    signature: '[object_type=Request] [num=200 [max_depth=10]]',
  }),
  c('memsample', 'inspect', 'Sample current RSS memory usage.'),
  c('memdump', 'inspect', 'Dump statistics of previous memsample requests.', {
    args: [['samples', 'int']],
    signature: '[n_samples=10]',
  }),
  c('pool_grow', 'control', 'Grow pool by n processes/threads.', {
    args: [['n', 'int']],
    signature: '[N=1]',
  }),
  c('pool_shrink', 'control', 'Shrink pool by n processes/threads.', {
    args: [['n', 'int']],
    signature: '[N=1]',
  }),
  c('pool_restart', 'control', 'Restart execution pool.'),
  c('autoscale', 'control', 'Modify autoscale settings.', {
    args: [
      ['max', 'int'],
      ['min', 'int'],
    ],
    signature: '[max [min]]',
  }),
  c('shutdown', 'control', 'Shutdown worker(s).'),
  c('add_consumer', 'control', 'Tell worker(s) to consume from task queue by name.', {
    args: [
      ['queue', 'str'],
      ['exchange', 'str'],
      ['exchange_type', 'str'],
      ['routing_key', 'str'],
    ],
    signature: '<queue> [exchange [type [routing_key]]]',
  }),
  c('cancel_consumer', 'control', 'Tell worker(s) to stop consuming from task queue by name.', {
    args: [['queue', 'str']],
    signature: '<queue>',
  }),
  c('active_queues', 'inspect', 'List the task queues a worker is currently consuming from.'),
];

/** The command named `name` of `type`, if Celery has it. */
export function findCommand(name: string, type: CommandInfo['type']): CommandInfo | undefined {
  return COMMANDS.find((cmd) => cmd.name === name && cmd.type === type);
}

/** Thrown for positional arguments a command does not take, or that do not convert. */
export class CommandArgumentError extends Error {}

/**
 * Celery's `_compile_arguments`: positionals to the command's keyword arguments, converted
 * by type; what is left goes to the variadic argument (with Celery's quirk: when every named
 * argument was given, the variadic one gets the last of them again, since Celery slices from
 * the index it stopped at).
 */
export function compileArguments(
  cmd: CommandInfo,
  positionals: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let rest = [...positionals];
  if (cmd.args.length > 0) {
    let stoppedAt: number | undefined;
    for (let i = 0; i < positionals.length; i++) {
      const spec = cmd.args[i];
      if (spec === undefined) {
        if (!cmd.variadic) {
          throw new CommandArgumentError(
            `Command '${cmd.name}' takes arguments: ${cmd.signature ?? ''}`,
          );
        }
        stoppedAt = i;
        break;
      }
      out[spec[0]] = convert(spec[1], positionals[i] ?? '', cmd.name);
    }
    rest = positionals.slice(stoppedAt ?? Math.max(0, positionals.length - 1));
  }
  if (cmd.variadic) out[cmd.variadic] = rest;
  return out;
}

function convert(type: ArgType, text: string, command: string): unknown {
  switch (type) {
    case 'str':
      return text;
    case 'int': {
      if (!/^\s*[-+]?\d+\s*$/.test(text)) {
        throw new CommandArgumentError(
          `${command}: invalid literal for int() with base 10: '${text}'`,
        );
      }
      return Number(text);
    }
    case 'float': {
      const n = Number(text);
      if (text.trim() === '' || Number.isNaN(n)) {
        throw new CommandArgumentError(`${command}: could not convert string to float: '${text}'`);
      }
      return n;
    }
    case 'bool': {
      const v = text.toLowerCase();
      if (['y', 'yes', 't', 'true', 'on', '1'].includes(v)) return true;
      if (['n', 'no', 'f', 'false', 'off', '0'].includes(v)) return false;
      throw new CommandArgumentError(`${command}: invalid truth value '${text}'`);
    }
  }
}
