/**
 * Loads the user's app module for `-A`: a .ts or .js path, optionally `path:attribute`.
 * The app is the export named by the attribute, else `app`, else `celery`, else the default
 * export, else the only Celery instance among the exports.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Celery } from './celery.js';
import { CeleriacError } from '../errors.js';

/** True for objects that behave as a celeriac app (duck-typed: the module may hold its own copy of the class). */
export function isApp(value: unknown): value is Celery {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Celery).connection === 'function' &&
    typeof (value as Celery).task === 'function' &&
    (value as Celery).tasks instanceof Map
  );
}

/** Imports the module and returns its app. Throws APP_LOAD_FAILED with a clear reason. */
export async function loadApp(spec: string, cwd = process.cwd()): Promise<Celery> {
  const colon = spec.lastIndexOf(':');
  const hasAttr = colon > 1; // not a Windows drive letter
  const path = hasAttr ? spec.slice(0, colon) : spec;
  const attr = hasAttr ? spec.slice(colon + 1) : undefined;
  const file = findFile(resolve(cwd, path));
  if (!file) {
    throw new CeleriacError(
      'APP_LOAD_FAILED',
      `Cannot find the app module '${path}' (looked in ${cwd})`,
      {
        hint: 'pass the path of the module that creates the app, e.g. -A tasks.ts or -A src/tasks.ts:app',
      },
    );
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new CeleriacError(
      'APP_LOAD_FAILED',
      `Loading the app module '${path}' failed: ${(error as Error).message}`,
      {
        cause: error,
        hint: 'fix the error in the module (the cause is printed with --loglevel=debug)',
      },
    );
  }
  const candidates = attr ? [attr] : ['app', 'celery', 'default'];
  for (const name of candidates) {
    if (isApp(mod[name])) return mod[name];
  }
  const found = Object.values(mod).filter(isApp);
  if (!attr && found.length === 1 && found[0]) return found[0];
  throw new CeleriacError(
    'APP_LOAD_FAILED',
    attr
      ? `The module '${path}' has no Celery app named '${attr}'`
      : `The module '${path}' does not export a Celery app`,
    { hint: "export it: export const app = new Celery('tasks', { ... })" },
  );
}

function findFile(path: string): string | undefined {
  const candidates = [
    path,
    `${path}.ts`,
    `${path}.js`,
    `${path}.mts`,
    `${path}.mjs`,
    resolve(path, 'index.ts'),
    resolve(path, 'index.js'),
  ];
  return candidates.find((candidate) => {
    try {
      return statSync(candidate).isFile();
    } catch {
      return false;
    }
  });
}
