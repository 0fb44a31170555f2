/**
 * Colours for the CLI's output, on when Celery's CLI would colour: stdout is a terminal (and
 * not TERM=dumb). `NO_COLOR` or `--no-color` turn them off, `FORCE_COLOR` or `--color` on.
 * (picocolors' own default also colours whenever `CI` is set, even into a pipe, which would put
 * escape codes into output that scripts parse.)
 */
import { createColors } from 'picocolors';

export function colorsWanted(
  env: NodeJS.ProcessEnv = process.env,
  argv: readonly string[] = process.argv,
  isTTY: boolean = process.stdout.isTTY === true,
): boolean {
  if ('NO_COLOR' in env || argv.includes('--no-color')) return false;
  if ('FORCE_COLOR' in env || argv.includes('--color')) return true;
  return isTTY && env.TERM !== 'dumb';
}

export const pc = createColors(colorsWanted());
